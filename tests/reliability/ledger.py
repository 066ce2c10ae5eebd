"""The reliability report: each case counts what it tried and what went wrong (messages lost,
answered twice, leaked), and the table is printed at the end of the run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Row:
    """One case's figures; a test sets `lost`, `duplicates` and `leaks` from what it saw."""

    case: str
    tried: int = 0
    passed: int = 0
    lost: int = 0
    duplicates: int = 0
    leaks: int = 0


class Ledger:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    @contextlib.contextmanager
    def case(self, name: str, tried: int) -> Iterator[Row]:
        """Count `tried` attempts; they count as passed only if the block's checks hold."""
        row = self.rows.setdefault(name, Row(name))
        row.tried += tried
        yield row
        row.passed += tried

    def table(self) -> str:
        lines = [
            "| case | tried | passed | messages lost | duplicates | leaks |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        totals = Row("**all**")
        for row in sorted(self.rows.values(), key=lambda r: _case_number(r.case)):
            lines.append(
                f"| {row.case} | {row.tried} | {row.passed} | {row.lost} | {row.duplicates} "
                f"| {row.leaks} |"
            )
            for name in ("tried", "passed", "lost", "duplicates", "leaks"):
                setattr(totals, name, getattr(totals, name) + getattr(row, name))
        lines.append(
            f"| {totals.case} | {totals.tried} | {totals.passed} | {totals.lost} "
            f"| {totals.duplicates} | {totals.leaks} |"
        )
        return "\n".join(lines)


def _case_number(case: str) -> int:
    head = case.split(".", 1)[0]
    return int(head) if head.isdigit() else 99
