"""A git repository as a local folder to ingest: cloned once (shallow) into a cache folder,
then brought to the remote branch's latest commit at each sync, with the `git` command run
off the event loop. A token goes to git through its environment, never on a command line."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from core.errors import BadInputError
from core.ingest.downloads import without_credentials
from core.private_files import make_private_folder

__all__ = ["checkout"]

_TIMEOUT_S = 300.0


async def checkout(url: str, cache: Path, branch: str | None, token: str | None) -> Path:
    """The repository's files at the branch's (or the default branch's) latest commit, in a
    folder named after the repository (so its sources are `repo/docs/a.md`)."""
    name = PurePosixPath(urlsplit(url).path or url).name.removesuffix(".git") or "repository"
    key = hashlib.sha256(f"{url}\0{branch or ''}".encode()).hexdigest()[:16]
    folder = cache / key / name
    make_private_folder(folder.parent)
    if not (folder / ".git").is_dir():
        args = ["clone", "--quiet", "--depth", "1", *(["--branch", branch] if branch else [])]
        await _git([*args, "--", url, str(folder)], url, token)
        return folder
    ref = branch or "HEAD"
    await _git(["-C", str(folder), "fetch", "--quiet", "--depth", "1", "origin", ref], url, token)
    await _git(["-C", str(folder), "reset", "--quiet", "--hard", "FETCH_HEAD"], url, token)
    return folder


async def _git(args: list[str], url: str, token: str | None) -> None:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if token:  # as config in the environment: a command line is visible to every user
        env |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {token}",
        }
    shown = without_credentials(url)
    try:
        process = await asyncio.create_subprocess_exec(
            "git",
            *args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise BadInputError(
            "the git command is not installed: it is needed for git sources"
        ) from exc
    try:
        _, err = await asyncio.wait_for(process.communicate(), _TIMEOUT_S)
    except TimeoutError as exc:
        process.kill()
        raise BadInputError(f"git {args[0]} of {shown}: no answer within {_TIMEOUT_S:g} s") from exc
    if process.returncode:
        detail = err.decode(errors="replace").strip().splitlines()
        reason = (detail[-1] if detail else f"exit code {process.returncode}").replace(url, shown)
        raise BadInputError(f"git could not fetch {shown}: {reason}")
