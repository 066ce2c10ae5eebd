"""The reliability suite's shared parts: the ledger behind the figure table, fake secrets
that must never show up anywhere, and a record of every log line and every message sent."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.ledger import Ledger

_LEDGER = Ledger()
_LOG_LINES: list[str] = []
_SENT: list[Any] = []


class _Everything(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _LOG_LINES.append(self.format(record))


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    return _LEDGER


@pytest.fixture(scope="session", autouse=True)
def every_log_line() -> Iterator[list[str]]:
    """Every line any logger writes during the suite, tracebacks included, at DEBUG (what
    `helpbot -v` would show)."""
    handler = _Everything(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield _LOG_LINES
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def sent() -> list[Any]:
    """What the bot sent to platforms and models (message bodies, not request headers);
    tests add their stand-ins' calls here for the secrets case."""
    return _SENT


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _LEDGER.rows:
        return
    table = _LEDGER.table()
    terminalreporter.write_sep("=", "reliability figures")
    terminalreporter.write_line(table)
    report = os.environ.get("HELPBOT_RELIABILITY_REPORT")
    if report:
        Path(report).write_text(table + "\n", encoding="utf-8")
