"""Which downloaded pages' validators (ETag, Last-Modified) are kept for the next sync's
conditional requests, and which are dropped: a page asked for with its validators answers
304 and keeps whatever chunks it has, so a page whose chunks went must lose them first."""

from __future__ import annotations

from collections.abc import Sequence

from core.ingest.sources import IngestRoot, still_stored, url_source
from core.search.types import Validators

__all__ = ["version_changes"]


def version_changes(
    downloaded: dict[str, Validators],
    known: dict[str, Validators],
    remaining: set[str],
    listed: Sequence[IngestRoot],
) -> tuple[dict[str, Validators], list[str]]:
    """After a sync: the validators to record (this sync's downloads, for the next one,
    whichever process runs it) and the URLs to forget (pages no longer validated, or gone
    from a root synced now, such as a page dropped from its sitemap). A page without
    chunks keeps its validators, so it costs a 304 too."""
    validated = {url for url, v in downloaded.items() if v.etag or v.last_modified}
    versions = {url: downloaded[url] for url in validated if known.get(url) != downloaded[url]}
    gone = [url for url in downloaded if url not in validated and url in known]
    gone += [
        url
        for url in known
        if url not in downloaded
        and not still_stored(url, remaining)
        and any(root.owns(url_source(url)) for root in listed)
    ]
    return versions, gone
