"""Which knowledge bases a place may search, from a routing file (ROUTING_FILE, TOML).

The scope it gives travels in the `Query` and becomes the Milvus search filter, so a channel
can never read a knowledge base it is not mapped to, whatever the question says. An empty
scope means helpbot is not enabled there.

    default = ["handbook"]          # any channel without a rule of its own (omit: not enabled)
    public = ["handbook"]           # what DMs, external channels and guests may search

    [slack]
    dm = ["handbook"]               # optional; each of dm, external, guest defaults to public
    [slack.channels]
    C0ENG = ["handbook", "eng"]

    [discord]
    dm = ["handbook"]
    [discord.guilds]
    "1234567890" = ["handbook", "eng"]
    [discord.channels]              # a channel rule overrides its guild's
    "2345678901" = ["hr"]

External (Slack Connect) channels and guest users get their channel's knowledge bases that
their own rule also allows: a guest in #hr sees HR documents only if `guest` lists them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.settings import KNOWLEDGE_BASE_NAME, Settings

__all__ = ["Place", "Routing", "load_routing"]

_KNOWLEDGE_BASE = re.compile(KNOWLEDGE_BASE_NAME)
_PLATFORMS = ("slack", "discord")


@dataclass(frozen=True)
class Place:
    """Where a question was asked, as far as access is concerned."""

    platform: str
    channel: str | None = None
    guild: str | None = None
    direct: bool = False
    external: bool = False
    guest: bool = False


@dataclass(frozen=True)
class _PlatformRules:
    channels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    guilds: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dm: tuple[str, ...] = ()
    external: tuple[str, ...] = ()
    guest: tuple[str, ...] = ()


@dataclass(frozen=True)
class Routing:
    """The rules of one routing file; `Routing.everywhere(kb)` when there is none."""

    default: tuple[str, ...]
    platforms: dict[str, _PlatformRules]

    @classmethod
    def everywhere(cls, knowledge_base: str) -> Routing:
        """No routing file: every place searches the one configured knowledge base."""
        rules = _PlatformRules(
            dm=(knowledge_base,), external=(knowledge_base,), guest=(knowledge_base,)
        )
        return cls((knowledge_base,), dict.fromkeys(_PLATFORMS, rules))

    @classmethod
    def from_file(cls, path: Path) -> Routing:
        """Read and check a routing file; any mistake is a ConfigError naming the file."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read ROUTING_FILE {path}: {exc}") from exc
        return _parse(data, str(path))

    def scope(self, place: Place) -> tuple[str, ...]:
        """The knowledge bases a question from `place` may search; () when none."""
        rules = self.platforms.get(place.platform, _PlatformRules())
        if place.direct:
            return rules.dm
        if place.channel in rules.channels:
            scope = rules.channels[place.channel]
        elif place.guild in rules.guilds:
            scope = rules.guilds[place.guild]
        else:
            scope = self.default
        for restricted, allowed in ((place.external, rules.external), (place.guest, rules.guest)):
            if restricted:
                scope = tuple(kb for kb in scope if kb in allowed)
        return scope


def load_routing(settings: Settings) -> Routing:
    """The routing file's rules, or the configured knowledge base everywhere without one."""
    if settings.routing_file is None:
        return Routing.everywhere(settings.knowledge_base)
    return Routing.from_file(settings.routing_file)


def _parse(data: dict[str, Any], where: str) -> Routing:
    known = {"default", "public", *_PLATFORMS}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {sorted(known)})")
    default = _kbs(data.get("default", []), f"{where}: default")
    public = _kbs(data.get("public", []), f"{where}: public")
    platforms = {}
    for platform in _PLATFORMS:
        section = data.get(platform, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: [{platform}] must be a table")
        allowed = {"channels", "dm", "external", "guest"} | (
            {"guilds"} if platform == "discord" else set()
        )
        unknown = set(section) - allowed
        if unknown:
            raise ConfigError(f"{where}: unknown key {platform}.{sorted(unknown)[0]}")
        platforms[platform] = _PlatformRules(
            channels=_mapping(section.get("channels", {}), f"{where}: {platform}.channels"),
            guilds=_mapping(section.get("guilds", {}), f"{where}: {platform}.guilds"),
            dm=_kbs(section.get("dm", public), f"{where}: {platform}.dm"),
            external=_kbs(section.get("external", public), f"{where}: {platform}.external"),
            guest=_kbs(section.get("guest", public), f"{where}: {platform}.guest"),
        )
    return Routing(default, platforms)


def _mapping(value: object, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table of id = [knowledge bases]")
    return {str(key): _kbs(kbs, f"{where}.{key}") for key, kbs in value.items()}


def _kbs(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(kb, str) for kb in value):
        raise ConfigError(f"{where} must be a list of knowledge base names")
    for kb in value:
        if not _KNOWLEDGE_BASE.match(kb):
            raise ConfigError(f"{where}: {kb!r} is not a knowledge base name")
    return tuple(value)
