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
    listed = [info for info in archive.infolist() if not info.is_dir()]
    labels = _labels(listed)
    entries = sorted(listed, key=lambda i: i.filename)
    if len(entries) > max_files:
        raise ArchiveError(f"zip holds {len(entries)} files, more than {max_files}")
    total = sum(info.file_size for info in entries)
    if total > max_bytes:
        raise ArchiveError(f"zip holds {total} bytes uncompressed, more than {max_bytes}")
    files: list[SourceFile | SkippedFile] = []
    for info in entries:
        name = _safe_name(info.filename)
        label, duplicate = labels[info]
        if name is None:
            files.append(SkippedFile(f"{scope}/{label}", "unsafe path in zip"))
        elif any(part.startswith(".") for part in name.split("/")):
            continue
        elif duplicate:
            files.append(SkippedFile(f"{scope}/{label}", duplicate))
        elif info.flag_bits & 0x1:
            files.append(SkippedFile(f"{scope}/{name}", "encrypted in the zip"))
        else:
            files.append(
                SourceFile(f"{scope}/{name}", info.file_size, partial(_read, archive, info))
            )
    return files


def _labels(entries: list[zipfile.ZipInfo]) -> dict[zipfile.ZipInfo, tuple[str, str]]:
    """Each entry's name in reports, and why it is skipped when another entry has its path.

    A zip may hold one path twice; the last entry in the zip's directory wins, as it does for
    `unzip -o` (each overwrites the one before) and `ZipFile.open(name)`, and each earlier one
    is skipped as "path (entry k of n)", since one source name stands for one file. Paths are
    compared once normalised (`./a.md` is `a.md`); an unsafe one keeps its raw name.
    """
    paths: dict[str, list[zipfile.ZipInfo]] = {}
    for info in entries:
        paths.setdefault(_safe_name(info.filename) or info.filename, []).append(info)
    labels: dict[zipfile.ZipInfo, tuple[str, str]] = {}
    for path, same in paths.items():
        *earlier, last = same
        labels[last] = (path, "")
        for k, info in enumerate(earlier, start=1):
            reason = f"the zip holds {len(same)} entries named {path}; only the last one is read"
            labels[info] = (f"{path} (entry {k} of {len(same)})", reason)
    return labels


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
