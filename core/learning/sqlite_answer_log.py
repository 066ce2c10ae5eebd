"""The answer log in a SQLite file, for one bot process (the default)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import uuid
from pathlib import Path

from core.learning.answer_log import AnswerRecord, Retention, Vote, source_keys
from core.models import Answer, Query
from core.private_files import create_private_file


class SqliteAnswerLog:
    """SQLite file of answers and votes; every call runs in a worker thread."""

    def __init__(self, path: Path, retention: Retention | None = None) -> None:
        self._path = path
        self._retention = retention or Retention(None)
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

    async def save_answer(self, query: Query, answer: Answer) -> str:
        """Store a posted answer; returns the id its vote buttons carry."""
        await self._retention.purge_if_due(self.purge)
        return await asyncio.to_thread(self._save_answer, query, answer)

    async def purge(self, older_than_days: float | None = None) -> int:
        """Delete answers (and their votes) older than the given days, or all; returns how
        many answers went."""
        return await asyncio.to_thread(self._purge, self._retention.cutoff(older_than_days))

    def _purge(self, cutoff: float) -> int:
        with self._lock, self._connection as db:
            old = "SELECT id FROM answers WHERE created_at < ?"
            db.execute(f"DELETE FROM votes WHERE answer_id IN ({old})", (cutoff,))
            return db.execute("DELETE FROM answers WHERE created_at < ?", (cutoff,)).rowcount

    async def vote(self, answer_id: str, voter: str, vote: Vote) -> bool:
        """Record a vote (a second vote by the same person replaces the first); False when
        the answer is unknown."""
        return await asyncio.to_thread(self._vote, answer_id, voter, vote)

    async def recent(self, limit: int = 20, only_voted: bool = False) -> list[AnswerRecord]:
        """The latest answers, newest first, with their vote counts."""
        return await asyncio.to_thread(self._recent, limit, only_voted)

    def _open(self) -> None:
        # Questions and user ids: readable by the owner only, journal files included.
        create_private_file(self._path)
        db = sqlite3.connect(self._path, check_same_thread=False)
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
                """
            )
        self._db = db

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("SqliteAnswerLog.start() was not awaited")
        return self._db

    def _save_answer(self, query: Query, answer: Answer) -> str:
        answer_id = uuid.uuid4().hex
        sources = source_keys(answer)
        origin = query.origin
        with self._lock, self._connection as db:
            db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    self._retention.clock(),
                    origin.platform,
                    origin.workspace,
                    origin.channel,
                    origin.user,
                    query.text,
                    answer.text,
                    int(answer.answered),
                    json.dumps(sources, ensure_ascii=False),
                ),
            )
        return answer_id

    def _vote(self, answer_id: str, voter: str, vote: Vote) -> bool:
        with self._lock, self._connection as db:
            if db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                return False
            db.execute(
                "INSERT OR REPLACE INTO votes VALUES (?, ?, ?, ?)",
                (answer_id, voter, vote, self._retention.clock()),
            )
        return True

    def _recent(self, limit: int, only_voted: bool) -> list[AnswerRecord]:
        having = "HAVING COUNT(v.vote) > 0" if only_voted else ""
        with self._lock:
            rows = self._connection.execute(
                "SELECT a.*, SUM(v.vote = 'up'), SUM(v.vote = 'down') FROM answers a "
                f"LEFT JOIN votes v ON v.answer_id = a.id GROUP BY a.id {having} "
                "ORDER BY a.created_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            AnswerRecord(
                id=row[0],
                created_at=row[1],
                platform=row[2],
                workspace=row[3],
                channel=row[4],
                user=row[5],
                question=row[6],
                answer=row[7],
                answered=bool(row[8]),
                sources=tuple(json.loads(row[9])),
                up=int(row[10] or 0),
                down=int(row[11] or 0),
            )
            for row in rows
        ]
