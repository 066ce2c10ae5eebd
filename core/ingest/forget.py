"""Delete what a user names from a knowledge base: a root as it was ingested, a folder or file
inside one, or the whole knowledge base, with the record of where it came from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from core.errors import BadInputError
from core.ingest.downloads import is_url
from core.ingest.sources import local_origin, still_stored, url_origin, url_source
from core.search.milvus.store import MilvusStore
from core.search.types import RootRecord

__all__ = ["ForgetReport"]


@dataclass(frozen=True)
class ForgetReport:
    """What a forget deleted: chunks, and the files (sources) they came from."""

    chunks: int
    files: int
    removed: tuple[str, ...] = ()
    """The ids of the chunks deleted (answers that cited them are stale)."""

    def summary(self) -> str:
        return f"forgot {self.chunks} chunks of {self.files} files"


async def forget(store: MilvusStore, kb: str, names: Sequence[str]) -> ForgetReport:
    """Delete every chunk `names` covers in `kb` (all of them with no names).

    A name is a path or URL as it was ingested, a root's scope (`handbook`), or a source in
    one (`handbook/ops`, `handbook/a.md`). A name that matches nothing is an error and nothing
    is deleted, so a typo never passes for success.
    """
    records = await store.root_records(kb)
    refs = await store.chunk_refs(kb)
    scopes = [_scope(name, records) for name in names]
    for name, scope in zip(names, scopes, strict=True):
        if not any(_covers(scope, ref.source) for ref in refs) and not any(
            _covers(scope, record.scope) for record in records
        ):
            raise BadInputError(
                f"nothing in knowledge base {kb!r} matches {name}; give a path or URL as "
                "it was ingested, or a source name as answers show it"
            )
    gone = [ref for ref in refs if not names or any(_covers(s, ref.source) for s in scopes)]
    gone_sources = {ref.source for ref in gone}
    await _forget_page_versions(
        store,
        kb,
        lambda url: (
            not names
            or still_stored(url, gone_sources)
            or any(_covers(scope, url_source(url)) for scope in scopes)
        ),
    )
    await store.delete(ref.id for ref in gone)
    await store.flush()
    await store.update_hubness(kb, changed=bool(gone))
    forgotten = [r.scope for r in records if not names or any(_covers(s, r.scope) for s in scopes)]
    await store.forget_roots(kb, forgotten)
    return ForgetReport(len(gone), len(gone_sources), tuple(r.id for r in gone))


def _scope(name: str, records: list[RootRecord]) -> str:
    """The scope or source a name stands for: a recorded origin's scope, else the name."""
    origin = url_origin(name) if is_url(name) else str(local_origin(name))
    for record in records:
        if record.origin == origin:
            return record.scope
    return name.rstrip("/")


def _covers(scope: str, source: str) -> bool:
    return source == scope or source.startswith(scope + "/")


async def remove_roots(store: MilvusStore, records: list[RootRecord]) -> list[str]:
    """Delete every chunk the recorded roots own, and their records; the ids deleted."""
    removed: list[str] = []
    for kb in {record.kb for record in records}:
        mine = [record for record in records if record.kb == kb]
        owned = [ref for ref in await store.chunk_refs(kb) if _owned(ref.source, mine)]
        gone = [ref.id for ref in owned]
        sources = {ref.source for ref in owned}
        await _forget_page_versions(store, kb, partial(_page_owned, sources=sources, records=mine))
        await store.delete(gone)
        await store.forget_roots(kb, [record.scope for record in mine])
        if gone:
            await store.flush()
            await store.update_hubness(kb, changed=True)
        removed += gone
    return removed


def _owned(source: str, records: list[RootRecord]) -> bool:
    return any(record.owns(source) for record in records)


def _page_owned(url: str, sources: set[str], records: list[RootRecord]) -> bool:
    return still_stored(url, sources) or _owned(url_source(url), records)


async def _forget_page_versions(store: MilvusStore, kb: str, covers: Callable[[str], bool]) -> None:
    """Drop the validators of the downloaded pages `covers` (by URL), before their chunks go
    (cut short in between, the next sync downloads them whole and nothing is lost): asked
    with them, it would hear 304 and keep a forgotten page empty. A page that never had
    chunks keeps its validators (and its 304) otherwise."""
    if urls := [url for url in await store.page_versions(kb) if covers(url)]:
        await store.record_page_versions(kb, {}, urls)
