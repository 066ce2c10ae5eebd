"""How the CLI reports a failure: one line on stderr, never a traceback (that is `-v`)."""

from __future__ import annotations

import sys

__all__ = ["fail"]


def fail(message: str) -> None:
    print(f"helpbot: error: {message}", file=sys.stderr)
