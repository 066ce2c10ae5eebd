"""The files inside a zip, read in memory within limits: nothing is extracted to disk."""

from __future__ import annotations

import io
import zipfile
import zlib
from functools import partial
from pathlib import PurePosixPath

from core.ingest.files import SkippedFile, SourceFile


class ArchiveError(Exception):
    """A zip that cannot be ingested at all; the message is the reason shown to the user."""


def zip_files(
    data: bytes, scope: str, max_files: int, max_bytes: int
) -> list[SourceFile | SkippedFile]:
    """The zip's files as sources under `scope`, in name order; hidden files are left out.

    Limits are checked on the sizes the zip declares before anything is decompressed, and
    zipfile never returns more bytes than an entry declares, so a zip bomb is refused cheaply.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ArchiveError("not a valid zip file") from exc
    entries = sorted((i for i in archive.infolist() if not i.is_dir()), key=lambda i: i.filename)
    if len(entries) > max_files:
        raise ArchiveError(f"zip holds {len(entries)} files, more than {max_files}")
    total = sum(info.file_size for info in entries)
    if total > max_bytes:
        raise ArchiveError(f"zip holds {total} bytes uncompressed, more than {max_bytes}")
    files: list[SourceFile | SkippedFile] = []
    for info in entries:
        name = _safe_name(info.filename)
        if name is None:
            files.append(SkippedFile(f"{scope}/{info.filename}", "unsafe path in zip"))
        elif any(part.startswith(".") for part in name.split("/")):
            continue
        elif info.flag_bits & 0x1:
            files.append(SkippedFile(f"{scope}/{name}", "encrypted in the zip"))
        else:
            files.append(
                SourceFile(f"{scope}/{name}", info.file_size, partial(_read, archive, info))
            )
    return files


def _safe_name(raw: str) -> str | None:
    """The entry's path inside the zip, or None for one that would escape it (zip slip)."""
    path = PurePosixPath(raw.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or ":" in (path.parts or ("",))[0]:
        return None
    return path.as_posix()


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise OSError(f"damaged zip entry: {exc}") from exc
