"""The boundary the code is built around, checked on the source: the core knows no chat
platform, the adapters use only what the core exports, and modules stay small."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import core
from tests.support import PROJECT_ROOT

PLATFORM_PACKAGES = {"slack_bolt", "slack_sdk", "discord", "bots"}
MAX_MODULE_LINES = 450
# The only modules that may reach Milvus directly: the store itself and the three that are
# built on it. Everything else (prompts, excerpts, evaluation, the adapters) gets types from
# `core.search.types`.
MILVUS_USERS = {
    "core/answering/service.py",
    "core/container.py",
    "core/ingest/forget.py",
    "core/ingest/sync.py",
}


def modules(package: str) -> list[Path]:
    return sorted((PROJECT_ROOT / package).rglob("*.py"))


def imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, names) for each import statement; names empty for a plain `import x`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]


def rel(path: Path) -> str:
    return path.relative_to(PROJECT_ROOT).as_posix()


def test_the_core_imports_no_chat_platform_and_not_the_bots() -> None:
    offenders = [
        f"{rel(path)} imports {module}"
        for path in modules("core")
        for module, _ in imports(path)
        if module.split(".")[0] in PLATFORM_PACKAGES
    ]
    assert offenders == []


def test_the_bots_use_only_names_the_core_exports() -> None:
    exported = set(core.__all__)
    offenders = []
    for path in modules("bots"):
        for module, names in imports(path):
            if module.startswith("core."):
                offenders.append(f"{rel(path)} imports {module} (use `from core import ...`)")
            elif module == "core":
                offenders += [
                    f"{rel(path)}: {n} is not exported" for n in names if n not in exported
                ]
    assert offenders == []


def test_every_exported_core_name_exists() -> None:
    missing = [name for name in core.__all__ if not hasattr(core, name)]
    assert missing == []


def test_only_the_store_and_its_four_users_reach_milvus() -> None:
    reaching = {
        rel(path)
        for path in modules("core")
        if not rel(path).startswith("core/search/milvus/")
        and any(module.startswith("core.search.milvus") for module, _ in imports(path))
    }
    assert reaching == MILVUS_USERS


def test_no_module_of_the_core_or_the_bots_is_over_450_lines() -> None:
    long = {
        rel(path): n
        for package in ("core", "bots")
        for path in modules(package)
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
