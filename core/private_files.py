"""Data files only their owner can read. helpbot's SQLite files hold questions, user ids and
document text: each is created 0600, in folders helpbot creates 0700. SQLite gives a
database's -journal, -wal and -shm files the database file's own mode, so creating the file
before SQLite opens it covers them too, without touching the process-wide umask."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["create_private_file", "make_private_folder"]


def make_private_folder(folder: Path) -> None:
    """Create `folder` and its missing parents, each 0700; a folder that exists already is
    left as it is (its owner chose its mode)."""
    missing: list[Path] = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)  # the umask may narrow it, never widen it
        except FileExistsError:
            continue  # made by another process meanwhile: its mode is that process's choice


def create_private_file(path: Path) -> None:
    """Create `path` empty and 0600 (an empty file is an empty SQLite database), in private
    folders where they are missing; an existing file keeps its mode."""
    make_private_folder(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)
