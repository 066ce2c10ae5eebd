"""The answer log in a SQLite file, for one bot process (the default)."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import threading
import uuid
from collections.abc import Collection, Iterable
from pathlib import Path

from core.learning.answer_log import (
    AnswerRecord,
    GapStatus,
    LoggedOutcome,
    Retention,
    Vote,
    answer_details,
    changed_citation,
    failure_details,
    record_from,
    source_keys,
)
from core.models import Answer, Query
from core.private_files import create_private_file

_COLUMNS = "id, created_at, platform, workspace, channel, user, question, answer, answered, sources"
_BASE = tuple(_COLUMNS.split(", "))
_BATCH = 500  # ids per IN (...) list: under SQLite's bound-parameter limit


class SqliteAnswerLog:
    """SQLite file of replies and votes; every call runs in a worker thread. Several
    processes may share the file (a sync marks answers stale that `serve` gives notice of):
    SQLite's own locking orders their writes."""

    def __init__(
        self, path: Path, retention: Retention | None = None, keep_questions: bool = True
    ) -> None:
        self._path = path
        self._retention = retention or Retention(None)
        self._keep_questions = keep_questions
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    async def start(self) -> None:
        """Open (and if needed create) the SQLite file; answers past retention go."""
        await asyncio.to_thread(self._open)
        await self._retention.purge_if_due(self.purge)

    async def stop(self) -> None:
        """Close the file; a save still running in a worker thread finishes first."""
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        # Under the lock: closing a connection another thread is using crashes sqlite3.
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    async def save_answer(
        self, query: Query, answer: Answer, latency_ms: float | None = None
    ) -> str:
        """Store a posted answer; returns the id its vote buttons carry."""
        await self._retention.purge_if_due(self.purge)
        details = answer_details(query, answer, latency_ms)
        return await asyncio.to_thread(
            self._save, query, answer.text, answer.answered, source_keys(answer), details
        )

    async def save_failure(
        self, query: Query, outcome: LoggedOutcome, language: str, latency_ms: float | None = None
    ) -> str:
        await self._retention.purge_if_due(self.purge)
        details = failure_details(query, outcome, language, latency_ms)
        return await asyncio.to_thread(self._save, query, "", False, [], details)

    async def place_answer(self, answer_id: str, thread: str) -> None:
        await asyncio.to_thread(
            self._write,
            "UPDATE answers SET details = json_set(details, '$.thread', ?) WHERE id = ?",
            (thread, answer_id),
        )

    async def purge(self, older_than_days: float | None = None) -> int:
        """Delete answers (and their votes) older than the given days, or all; returns how
        many answers went."""
        return await asyncio.to_thread(self._purge, self._retention.cutoff(older_than_days))

    def _purge(self, cutoff: float) -> int:
        with self._lock, self._connection as db:
            old = "SELECT id FROM answers WHERE created_at < ?"
            db.execute(f"DELETE FROM votes WHERE answer_id IN ({old})", (cutoff,))
            db.execute(f"DELETE FROM notices WHERE answer_id IN ({old})", (cutoff,))
            return db.execute("DELETE FROM answers WHERE created_at < ?", (cutoff,)).rowcount

    async def vote(self, answer_id: str, voter: str, vote: Vote, reason: str | None = None) -> bool:
        return await asyncio.to_thread(self._vote, answer_id, voter, vote, reason)

    async def recent(self, limit: int = 20, only_voted: bool = False) -> list[AnswerRecord]:
        """The latest replies, newest first, with their votes."""
        having = "WHERE id IN (SELECT answer_id FROM votes)" if only_voted else ""
        return await asyncio.to_thread(
            self._records, f"{having} ORDER BY created_at DESC LIMIT ?", (limit,)
        )

    async def between(self, start: float, end: float = math.inf) -> list[AnswerRecord]:
        return await asyncio.to_thread(
            self._records,
            "WHERE created_at >= ? AND created_at < ? ORDER BY created_at",
            (start, end),
        )

    async def mark_stale(self, removed: Iterable[str], kept: set[tuple[str, str]]) -> int:
        gone = set(removed)
        if not gone:
            return 0
        return await asyncio.to_thread(self._mark_stale, gone, kept)

    def _mark_stale(self, removed: set[str], kept: set[tuple[str, str]]) -> int:
        # SQLite finds the answers citing a removed chunk (in C, without the GIL): reading
        # every answer into Python took seconds at 50,000 answers, after every sync.
        citing = (
            "WHERE id IN (SELECT answers.id FROM answers, json_each(details, '$.citations') AS c"
            " WHERE stale = 0 AND details IS NOT NULL"
            " AND json_extract(c.value, '$.chunk_id') IN (SELECT value FROM json_each(?)))"
        )
        candidates = self._records(citing, (json.dumps(sorted(removed)),))
        changed = {r.id: changed_citation(r, removed, kept) for r in candidates}
        now_stale = [
            (index, answer_id) for answer_id, index in changed.items() if index is not None
        ]
        now = self._retention.clock()
        with self._lock, self._connection as db:
            db.executemany(
                "UPDATE answers SET stale = 1, stale_at = ?, stale_cited = ? WHERE id = ?",
                [(now, index, answer_id) for index, answer_id in now_stale],
            )
        return len(now_stale)

    async def gone_stale(self, start: float, end: float = math.inf) -> list[AnswerRecord]:
        return await asyncio.to_thread(
            self._records,
            "WHERE stale_at >= ? AND stale_at < ? ORDER BY stale_at",
            (start, end),
        )

    async def claim_stale_notices(
        self, platforms: Collection[str], limit: int = 20
    ) -> list[AnswerRecord]:
        return await asyncio.to_thread(self._claim_stale_notices, list(platforms), limit)

    def _claim_stale_notices(self, platforms: list[str], limit: int) -> list[AnswerRecord]:
        if not platforms:
            return []
        with self._lock, self._connection as db:
            # BEGIN IMMEDIATE: the claim and its record are one write, across processes.
            db.execute("BEGIN IMMEDIATE")
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM answers WHERE stale = 1 AND id NOT IN "
                    "(SELECT answer_id FROM notices) "
                    f"AND platform IN ({', '.join('?' * len(platforms))}) "
                    "ORDER BY created_at LIMIT ?",
                    (*platforms, limit),
                )
            ]
            db.executemany(
                "INSERT INTO notices VALUES (?, ?)", [(i, self._retention.clock()) for i in ids]
            )
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        return self._records(f"WHERE id IN ({marks}) ORDER BY created_at", tuple(ids))

    async def gap_statuses(self) -> dict[str, GapStatus]:
        return await asyncio.to_thread(self._gap_statuses)

    def _gap_statuses(self) -> dict[str, GapStatus]:
        with self._lock:
            rows = self._connection.execute("SELECT id, status FROM gaps").fetchall()
        return {gap_id: GapStatus.from_json(status) for gap_id, status in rows}

    async def set_gap_status(self, gap_id: str, status: GapStatus) -> None:
        document = status.to_json()
        await asyncio.to_thread(
            self._write, "INSERT OR REPLACE INTO gaps VALUES (?, ?)", (gap_id, document)
        )

    async def claim_digest(self, now: float, every_s: float, platform: str) -> float | None:
        return await asyncio.to_thread(self._claim_digest, now, every_s, platform)

    def _claim_digest(self, now: float, every_s: float, platform: str) -> float | None:
        key = f"last_digest:{platform}"
        with self._lock, self._connection as db:
            db.execute("BEGIN IMMEDIATE")
            # A log from before each platform had its own schedule has one for all.
            row = db.execute(
                "SELECT value FROM meta WHERE key IN (?, 'last_digest') ORDER BY key = ? DESC",
                (key, key),
            ).fetchone()
            last = float(row[0]) if row else 0.0
            if now - last < every_s:
                return None
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, repr(now)))
        return last

    async def release_digest(self, claimed: float, last: float, platform: str) -> None:
        await asyncio.to_thread(
            self._write,
            "UPDATE meta SET value = ? WHERE key = ? AND value = ?",
            (repr(last), f"last_digest:{platform}", repr(claimed)),
        )

    def _write(self, sql: str, values: tuple[object, ...]) -> None:
        with self._lock, self._connection as db:
            db.execute(sql, values)

    def _open(self) -> None:
        # Questions and user ids: readable by the owner only, journal files included.
        create_private_file(self._path)
        db = sqlite3.connect(self._path, check_same_thread=False, timeout=30)
        # Deleted answers are overwritten, not left readable in the file's free pages.
        db.execute("PRAGMA secure_delete = ON")
        with self._lock, db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS answers (
                    id TEXT PRIMARY KEY, created_at REAL NOT NULL, platform TEXT,
                    workspace TEXT, channel TEXT, user TEXT, question TEXT NOT NULL,
                    answer TEXT NOT NULL, answered INTEGER NOT NULL, sources TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS votes (
                    answer_id TEXT NOT NULL REFERENCES answers(id), voter TEXT NOT NULL,
                    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')), voted_at REAL NOT NULL,
                    PRIMARY KEY (answer_id, voter));
                CREATE INDEX IF NOT EXISTS answers_by_time ON answers(created_at);
                CREATE TABLE IF NOT EXISTS notices (
                    answer_id TEXT PRIMARY KEY, sent_at REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS gaps (id TEXT PRIMARY KEY, status TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                """
            )
            # Files made before details, reasons and staleness were kept gain their columns.
            for table, column in (
                ("answers", "details TEXT"),
                ("answers", "stale INTEGER NOT NULL DEFAULT 0"),
                ("answers", "stale_at REAL"),
                ("answers", "stale_cited INTEGER"),
                ("votes", "reason TEXT"),
            ):
                have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                if column.split()[0] not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
        self._db = db

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("SqliteAnswerLog.start() was not awaited")
        return self._db

    def _save(
        self, query: Query, text: str, answered: bool, sources: list[str], details: str
    ) -> str:
        answer_id = uuid.uuid4().hex
        origin = query.origin
        with self._lock, self._connection as db:
            db.execute(
                f"INSERT INTO answers ({_COLUMNS}, details, stale) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    answer_id,
                    self._retention.clock(),
                    origin.platform,
                    origin.workspace,
                    origin.channel,
                    origin.user,
                    query.text if self._keep_questions else "",
                    text,
                    int(answered),
                    json.dumps(sources, ensure_ascii=False),
                    details,
                ),
            )
        return answer_id

    def _vote(self, answer_id: str, voter: str, vote: Vote, reason: str | None) -> bool:
        with self._lock, self._connection as db:
            if db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                return False
            db.execute(
                "INSERT OR REPLACE INTO votes (answer_id, voter, vote, voted_at, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                (answer_id, voter, vote, self._retention.clock(), reason),
            )
        return True

    def _records(self, where: str, values: tuple[object, ...]) -> list[AnswerRecord]:
        """Answers chosen by a WHERE / ORDER BY clause, each with its votes."""
        with self._lock:
            db = self._connection
            rows = db.execute(
                f"SELECT {_COLUMNS}, details, stale, stale_at, stale_cited FROM answers {where}",
                values,
            )
            found = rows.fetchall()
            votes: dict[str, list[tuple[str, str | None]]] = {row[0]: [] for row in found}
            ids = list(votes)
            for start in range(0, len(ids), _BATCH):
                batch = ids[start : start + _BATCH]
                for answer_id, vote, reason in db.execute(
                    "SELECT answer_id, vote, reason FROM votes "
                    f"WHERE answer_id IN ({', '.join('?' * len(batch))})",
                    batch,
                ):
                    votes[answer_id].append((vote, reason))
        return [
            record_from(
                dict(zip(_BASE, (*row[:9], tuple(json.loads(row[9]))), strict=True)),
                row[10],
                votes[row[0]],
                bool(row[11]),
                row[12],
                row[13],
            )
            for row in found
        ]
