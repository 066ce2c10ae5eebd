"""The pages a docs site lists in its sitemap.xml (sitemap indexes followed), on the sitemap's
own host only, up to a page limit. Parsed with defusedxml: a sitemap is untrusted XML."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from core.errors import BadInputError
from core.ingest.downloads import FetchOptions, download_all, is_url, without_credentials

__all__ = ["sitemap_pages"]

_MAX_SITEMAPS = 50  # an index of indexes stops here


async def sitemap_pages(url: str, options: FetchOptions, max_pages: int) -> list[str]:
    """The page URLs the sitemap at `url` lists, in order, without duplicates; pages and
    sitemaps on other hosts are left out. A sitemap that cannot be read is a BadInputError."""
    host = urlsplit(url).hostname
    pages: list[str] = []
    queue: list[str] = [url]
    read: set[str] = set()
    whole = replace(options, known={})  # sitemaps are small: always read them whole
    while queue and len(pages) < max_pages and len(read) < _MAX_SITEMAPS:
        sitemap = queue.pop(0)
        if sitemap in read:
            continue
        read.add(sitemap)
        [download] = await download_all([sitemap], whole)
        if download.data is None:
            raise BadInputError(
                f"sitemap {without_credentials(sitemap)} is larger than MAX_FILE_BYTES"
            )
        kind, locations = _read(download.data, sitemap)
        same_host = [loc for loc in locations if is_url(loc) and urlsplit(loc).hostname == host]
        if kind == "sitemapindex":
            queue += same_host
        else:
            pages += [loc for loc in same_host if loc not in pages]
    return pages[:max_pages]


def _read(data: bytes, url: str) -> tuple[str, list[str]]:
    """The sitemap's kind (`urlset` or `sitemapindex`) and the <loc> of each entry."""
    try:
        root = ElementTree.fromstring(data)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise BadInputError(f"{without_credentials(url)} is not a readable sitemap: {exc}") from exc
    kind = _local_name(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise BadInputError(f"{without_credentials(url)} is not a sitemap (<{kind}>)")
    locations = [
        (element.text or "").strip() for element in root.iter() if _local_name(element.tag) == "loc"
    ]
    return kind, [loc for loc in locations if loc]


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
