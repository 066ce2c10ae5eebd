"""The sources file (SOURCES_FILE, TOML): the knowledge bases and what feeds them, synced by
`helpbot sync` (and by `helpbot serve`, which keeps them in step).

    [[source]]
    kb = "handbook"                    # default: KNOWLEDGE_BASE
    path = "~/src/handbook/docs"       # a folder, file or .zip
    link = "https://handbook.example.com/{path}.html"

    [[source]]
    kb = "handbook"
    url = "https://example.com/faq.html"   # a page, PDF or zip
    refresh = "6h"                         # how often to fetch it again (remote sources)
    token_env = "FAQ_TOKEN"                # sent as a bearer token; never stored or printed

    [[source]]
    sitemap = "https://docs.example.com/sitemap.xml"   # every page it lists on its host
    max_pages = 500

    [[source]]
    git = "https://github.com/example/handbook.git"    # cloned, then pulled at each refresh
    glob = "docs/*.md"
    link = "https://github.com/example/handbook/blob/main/{file}"

A source taken out of the file has its chunks deleted at the next sync; what `helpbot ingest`
added by hand is never touched.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.errors import ConfigError
from core.ingest.downloads import is_url
from core.ingest.sources import DEFAULT_MAX_PAGES, local_origin, url_origin
from core.settings import KNOWLEDGE_BASE_NAME, parse_duration

__all__ = ["SourceSpec", "load_sources_file"]

_KNOWLEDGE_BASE = re.compile(KNOWLEDGE_BASE_NAME)
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
Kind = Literal["path", "url", "sitemap", "git"]
_KINDS: tuple[Kind, ...] = ("path", "url", "sitemap", "git")
_KEYS = {"kb", "link", "refresh", "token_env", "max_pages", "glob", "branch", *_KINDS}
DEFAULT_REFRESH_S = 6 * 3600.0
MIN_REFRESH_S = 60.0


@dataclass(frozen=True)
class SourceSpec:
    """One entry of the sources file. `location` is the path (relative to the file's folder
    when not absolute) or URL; `origin` is what the knowledge base records for it."""

    kb: str
    kind: Kind
    location: str
    link: str | None = None
    refresh_s: float = DEFAULT_REFRESH_S
    token_env: str | None = None
    max_pages: int = DEFAULT_MAX_PAGES
    glob: str = "*"
    """git: the files to take, by their path in the repository (`*` crosses folders)."""
    branch: str | None = None

    @property
    def remote(self) -> bool:
        return self.kind != "path"

    @property
    def origin(self) -> str:
        if self.kind == "path" or (self.kind == "git" and _is_local(self.location)):
            return str(local_origin(self.location))
        return url_origin(self.location) if is_url(self.location) else self.location

    def token(self) -> str | None:
        """The credential the source names, read from the environment when it is used."""
        if self.token_env is None:
            return None
        value = os.environ.get(self.token_env)
        if not value:
            raise ConfigError(f"{self.origin}: token_env {self.token_env} is not set")
        return value


def load_sources_file(path: Path, default_kb: str) -> list[SourceSpec]:
    """Read and check a sources file; any mistake is a ConfigError naming the file and entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read SOURCES_FILE {path}: {exc}") from exc
    unknown = set(data) - {"source"}
    if unknown:
        raise ConfigError(f"{path}: unknown key {sorted(unknown)[0]!r} (use [[source]] tables)")
    entries = data.get("source", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: `source` must be [[source]] tables")
    specs = [
        _spec(entry, f"{path}: source {n}", path.parent, default_kb)
        for n, entry in enumerate(entries, start=1)
    ]
    seen: dict[tuple[str, str], int] = {}
    for number, spec in enumerate(specs, start=1):
        earlier = seen.setdefault((spec.kb, spec.origin), number)
        if earlier != number:
            raise ConfigError(f"{path}: sources {earlier} and {number} are the same {spec.origin}")
    return specs


def _spec(entry: Any, where: str, folder: Path, default_kb: str) -> SourceSpec:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {sorted(_KEYS)})")
    kinds = [kind for kind in _KINDS if kind in entry]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: give exactly one of {', '.join(_KINDS)}")
    kind: Kind = kinds[0]
    location = _text(entry[kind], f"{where}: {kind}")
    if kind in ("url", "sitemap") and not is_url(location):
        raise ConfigError(f"{where}: {kind} must start with http:// or https://")
    for key in ("glob", "branch"):
        if key in entry and kind != "git":
            raise ConfigError(f"{where}: {key} is for a git source")
    if kind == "path" or (kind == "git" and _is_local(location)):
        expanded = Path(location).expanduser()
        location = str(expanded if expanded.is_absolute() else folder / expanded)
    kb = _text(entry.get("kb", default_kb), f"{where}: kb")
    if not _KNOWLEDGE_BASE.match(kb):
        raise ConfigError(f"{where}: {kb!r} is not a knowledge base name")
    link = _text(entry["link"], f"{where}: link") if "link" in entry else None
    token_env = _text(entry["token_env"], f"{where}: token_env") if "token_env" in entry else None
    refresh = _duration(entry.get("refresh", DEFAULT_REFRESH_S), f"{where}: refresh")
    max_pages = entry.get("max_pages", DEFAULT_MAX_PAGES)
    if kind != "sitemap" and "max_pages" in entry:
        raise ConfigError(f"{where}: max_pages is for a sitemap")
    if not isinstance(max_pages, int) or isinstance(max_pages, bool) or max_pages < 1:
        raise ConfigError(f"{where}: max_pages must be a whole number of at least 1")
    glob = _text(entry.get("glob", "*"), f"{where}: glob")
    branch = _text(entry["branch"], f"{where}: branch") if "branch" in entry else None
    return SourceSpec(kb, kind, location, link, refresh, token_env, max_pages, glob, branch)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a non-empty string")
    return value.strip()


def _duration(value: object, where: str) -> float:
    """A refresh interval: at least a minute."""
    seconds = parse_duration(value, where)
    if seconds < MIN_REFRESH_S:
        raise ConfigError(f"{where} must be at least a minute")
    return seconds


def _is_local(location: str) -> bool:
    """A git location that is a folder on this machine, not a URL or `user@host:path`."""
    return "://" not in location and not _SCP_LIKE.match(location)
