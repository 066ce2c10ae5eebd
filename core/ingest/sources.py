"""Turn what a user ingests (folders, files, zips, http(s) URLs) into roots of source files."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urldefrag, urlsplit

from core.errors import BadInputError
from core.ingest.downloads import (
    Download,
    FetchOptions,
    download_all,
    download_each,
    is_url,
    url_suffix,
    without_credentials,
)
from core.ingest.files import SkippedFile, SourceFile, UnchangedFile
from core.ingest.sitemap import sitemap_pages
from core.ingest.zip_archive import ArchiveError, zip_files
from core.search.types import Validators, scope_owns

ListedFile = SourceFile | SkippedFile | UnchangedFile


@dataclass(frozen=True)
class SourceLimits:
    """Caps on what is read: a file or page, a zip (downloaded and uncompressed), a download."""

    max_file_bytes: int
    max_zip_bytes: int
    max_zip_files: int
    download_timeout_s: float
    auth_token: str | None = field(default=None, repr=False)
    known: Mapping[str, Validators] = field(default_factory=dict)

    def fetch_options(self) -> FetchOptions:
        return FetchOptions(
            self.max_file_bytes,
            self.max_zip_bytes,
            self.download_timeout_s,
            self.auth_token,
            self.known,
        )


@dataclass(frozen=True)
class FolderInput:
    """A local folder recorded under another origin (a git checkout under its repository's
    URL), with only the files whose path inside it matches `include` (fnmatch: `*` crosses
    folders)."""

    path: Path
    origin: str
    include: str = "*"


DEFAULT_MAX_PAGES = 500


@dataclass(frozen=True)
class SitemapInput:
    """A docs site by its sitemap.xml: every page it lists on its host, up to `max_pages`."""

    url: str
    max_pages: int = DEFAULT_MAX_PAGES


@dataclass(frozen=True)
class IngestRoot:
    """One input: a folder or zip owns every source under `scope`, a file or page only itself.

    `files()` lists the input's files without reading them (a zip is read whole, in memory);
    it raises ArchiveError for a zip that cannot be used, and such a root deletes nothing.
    `label` names the input in a skip report; `origin` is where it came from (the absolute
    path as given, symlinks kept, or the URL without credentials), recorded per knowledge base
    so that another input with the same scope is noticed.
    """

    scope: str
    label: str
    is_dir: bool
    files: Callable[[], list[ListedFile]]
    origin: str
    validators: Mapping[str, Validators] = field(default_factory=dict)
    """Each downloaded URL's validators, for a conditional request next time."""

    def owns(self, source: str) -> bool:
        return scope_owns(self.scope, self.is_dir, source)


async def resolve_inputs(
    inputs: Sequence[str | Path | SitemapInput | FolderInput], limits: SourceLimits
) -> list[IngestRoot]:
    """Check every local path exists, then download every URL and sitemap: a typo or a dead
    link loses nothing.

    URLs must arrive as strings (a Path turns "https://" into "https:/").
    """
    sitemaps = [item for item in inputs if isinstance(item, SitemapInput)]
    folders = [item for item in inputs if isinstance(item, FolderInput)]
    urls = [item for item in inputs if isinstance(item, str) and is_url(item)]
    paths = [Path(item) for item in inputs if isinstance(item, str | Path) and item not in urls]
    roots = [_local_root(path, limits) for path in paths]
    roots += [_checkout_root(folder) for folder in folders]
    downloads = await download_all(urls, limits.fetch_options())
    roots += [_download_root(download, limits) for download in downloads]
    return roots + [await _sitemap_root(sitemap, limits) for sitemap in sitemaps]


def url_source(url: str) -> str:
    """A stable, readable source for a page: host and path, without scheme, query or fragment."""
    return (_host(url) + unquote(urlsplit(url).path)).rstrip("/")


def still_stored(url: str, sources: set[str]) -> bool:
    """Whether what was downloaded from `url` still has chunks among `sources`: the page, or
    any file of a zip."""
    if url_source(url) in sources:
        return True
    if url_suffix(url) != ".zip":
        return False
    scope = _zip_scope(url)
    return any(scope_owns(scope, True, source) for source in sources)


def _zip_scope(url: str) -> str:
    return PurePosixPath(unquote(urlsplit(url).path)).stem or url_source(url)


def _host(url: str) -> str:
    """The URL's host and port, without credentials: a sitemap's scope, a page source's start."""
    parts = urlsplit(url)
    return (parts.hostname or "") + (f":{parts.port}" if parts.port else "")


def local_origin(raw: str | Path) -> Path:
    """A local path as recorded: absolute, `~` expanded, symlinks kept (not resolved)."""
    return Path(os.path.abspath(Path(raw).expanduser()))


def url_origin(url: str) -> str:
    """A URL as recorded: no fragment, no credentials."""
    return without_credentials(urldefrag(url).url)


def _checkout_root(folder: FolderInput) -> IngestRoot:
    name = folder.path.name

    def files() -> list[ListedFile]:
        return [
            file
            for file in _folder_files(name, folder.path)
            if (isinstance(file, SkippedFile) and file.is_folder)
            or fnmatch.fnmatchcase(file.source.removeprefix(name + "/"), folder.include)
        ]

    return IngestRoot(name, name, True, files, folder.origin)


def _local_root(raw: Path, limits: SourceLimits) -> IngestRoot:
    """The scope is named from the path as given: `docs/current` (a symlink to `v43`) is
    `current` whichever version it points at, so re-pointing it replaces the old version."""
    given = local_origin(raw)
    try:
        path = given.resolve()
    except (RuntimeError, OSError) as exc:  # a symlink loop: RuntimeError before Python 3.13
        raise BadInputError(f"cannot follow {raw}: a symlink loop or unreadable link") from exc
    if not path.exists():
        raise BadInputError(f"no such file or folder: {raw}")
    name, origin = given.name or path.name, str(given)
    if path.is_dir():
        return IngestRoot(name, name, True, partial(_folder_files, name, path), origin)
    if path.suffix.lower() == ".zip":
        scope = PurePosixPath(name).stem
        return IngestRoot(scope, name, True, partial(_local_zip_files, path, scope, limits), origin)
    return IngestRoot(name, name, False, lambda: [_disk_file(name, path)], origin)


async def _sitemap_root(sitemap: SitemapInput, limits: SourceLimits) -> IngestRoot:
    """The site's pages as one root named after its host: a page gone from the sitemap has
    its chunks deleted, an unchanged one (304) is kept without a download, and one that
    cannot be downloaded (a dead link, a server error) is skipped with its chunks kept, while
    the others are synced. When no page can be downloaded, the site is failing."""
    pages = await sitemap_pages(sitemap.url, limits.fetch_options(), sitemap.max_pages)
    results = await download_each(pages, limits.fetch_options())
    downloads: list[Download] = []
    failed: list[tuple[str, BadInputError]] = []
    for url, result in zip(pages, results, strict=True):
        if isinstance(result, Download):
            downloads.append(result)
        else:
            failed.append((url, result))
    if failed and not downloads:
        raise failed[0][1]
    scope = _host(sitemap.url)

    def files() -> list[ListedFile]:
        fetched = [file for d in downloads for file in _page_files(d, url_source(d.url))]
        return fetched + [SkippedFile(url_source(url), str(error)) for url, error in failed]

    validators = {d.url: d.validators for d in downloads}
    return IngestRoot(
        scope, url_source(sitemap.url), True, files, url_origin(sitemap.url), validators
    )


def _download_root(download: Download, limits: SourceLimits) -> IngestRoot:
    label = url_source(download.url)
    origin = url_origin(download.url)
    validators = {download.url: download.validators}
    if download.is_zip:
        scope = _zip_scope(download.url)
        files = partial(_downloaded_zip_files, download, scope, limits)
        return IngestRoot(scope, label, True, files, origin, validators)
    files = partial(_page_files, download, label)
    return IngestRoot(label, label, False, files, origin, validators)


def _folder_files(scope: str, folder: Path) -> list[ListedFile]:
    """Files under a folder in a stable order, skipping hidden files and folders.

    A folder that cannot be listed is reported as skipped and keeps every chunk under it:
    `os.walk` alone would pass over it in silence, and the sync would delete its chunks.
    """
    files: list[ListedFile] = []

    def unreadable(error: OSError) -> None:
        where = Path(error.filename or folder)
        relative = where.relative_to(folder).as_posix() if where != folder else ""
        source = f"{scope}/{relative}".rstrip("/") if relative else scope
        reason = f"unreadable folder ({error.strerror or error})"
        files.append(SkippedFile(source, reason, keeps_old_chunks=True, is_folder=True))

    for parent, dirs, names in os.walk(folder, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in dirs:
            if (Path(parent) / name).is_symlink():  # os.walk does not follow it
                source = f"{scope}/{(Path(parent) / name).relative_to(folder).as_posix()}"
                files.append(SkippedFile(source, "a symlinked folder (not followed)", False))
        for name in sorted(names):
            if not name.startswith("."):
                path = Path(parent) / name
                source = f"{scope}/{path.relative_to(folder).as_posix()}"
                files.append(_disk_file(source, path, inside=folder))
    return files


def _disk_file(source: str, path: Path, inside: Path | None = None) -> ListedFile:
    """A file to read, or why not. With `inside`, a symlink that leads out of that folder is
    not followed: ingesting a folder must not publish a file from elsewhere on the machine."""
    try:
        info = path.stat()  # through a symlink: what would be read
    except OSError as exc:
        return SkippedFile(source, f"unreadable ({exc.strerror or exc})")
    if not stat.S_ISREG(info.st_mode):
        # A FIFO would block the read forever, a device (/dev/zero) never end it.
        return SkippedFile(source, "not a regular file (a pipe, device or socket)")
    if inside is not None and not path.resolve().is_relative_to(inside):
        return SkippedFile(source, "a symlink to a file outside the folder (not followed)", False)
    return SourceFile(source, info.st_size, path.read_bytes)


def _local_zip_files(path: Path, scope: str, limits: SourceLimits) -> list[ListedFile]:
    try:
        size = path.stat().st_size
        if size > limits.max_zip_bytes:
            raise ArchiveError(f"larger than the zip limit ({size} > {limits.max_zip_bytes} bytes)")
        data = path.read_bytes()
    except OSError as exc:
        raise ArchiveError(f"unreadable ({exc.strerror or exc})") from exc
    return [*zip_files(data, scope, limits.max_zip_files, limits.max_zip_bytes)]


def _downloaded_zip_files(download: Download, scope: str, limits: SourceLimits) -> list[ListedFile]:
    if download.not_modified:
        raise ArchiveError("not modified since the last sync")
    if download.data is None:
        raise ArchiveError(f"download larger than the zip limit ({download.limit} bytes)")
    return [*zip_files(download.data, scope, limits.max_zip_files, limits.max_zip_bytes)]


def _page_files(download: Download, source: str) -> list[ListedFile]:
    if download.not_modified:
        return [UnchangedFile(source)]
    data = download.data
    if data is None:
        return [
            SkippedFile(source, f"download larger than MAX_FILE_BYTES ({download.limit} bytes)")
        ]
    return [
        SourceFile(
            source,
            len(data),
            lambda: data,
            download.media_type,
            download.charset,
            url_origin(download.url),
        )
    ]
