"""Prometheus metrics for one helpbot process: questions and their outcomes, time per stage,
votes and ingestion. Each `Metrics` has its own registry, so tests and several bots in one
process never share counters by accident."""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from core import Answer, IngestReport

QuestionOutcome = Literal["answered", "unsure", "dont_know", "error"]

# Seconds: embedding and search take milliseconds, a generated answer several seconds.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The `helpbot_*` series one process exposes on /metrics."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.questions = Counter(
            "helpbot_questions",
            "Questions received, by platform and outcome (answered, unsure, dont_know, error).",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.duplicate_events = Counter(
            "helpbot_duplicate_events",
            "Events not answered because they already were: platform retries and redeliveries, "
            "or another bot process (with REDIS_URL).",
            ["platform"],
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "helpbot_stage_seconds",
            "Time spent in each stage of an answer (embed, search, generate).",
            ["stage"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.answer_seconds = Histogram(
            "helpbot_answer_seconds",
            "End to end: from the question reaching helpbot to the complete answer shown.",
            ["platform"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.first_token_seconds = Histogram(
            "helpbot_first_token_seconds",
            "From the question reaching helpbot to the first piece of the answer shown.",
            ["platform"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "helpbot_llm_tokens",
            "Tokens the language model reported using for answers, by platform and kind "
            "(prompt, completion).",
            ["platform", "kind"],
            registry=self.registry,
        )
        self.votes = Counter(
            "helpbot_feedback_votes",
            "Votes recorded on answers, by platform and vote (up, down).",
            ["platform", "vote"],
            registry=self.registry,
        )
        self.ingested_files = Counter(
            "helpbot_ingest_files",
            "Files seen by ingestion runs, by result (read, skipped, removed).",
            ["result"],
            registry=self.registry,
        )
        self.ingested_chunks = Counter(
            "helpbot_ingest_chunks",
            "Chunks handled by ingestion runs, by change (added, updated, unchanged, deleted).",
            ["change"],
            registry=self.registry,
        )
        self.sources_failing = Gauge(
            "helpbot_source_failing",
            "1 while a sources-file source's last sync failed (its chunks are kept), else 0.",
            ["kb", "source"],
            registry=self.registry,
        )
        self.ingest_runs = Counter(
            "helpbot_ingest_runs",
            "Ingestion runs, by result (ok, failed).",
            ["result"],
            registry=self.registry,
        )

    def question(
        self,
        platform: str,
        outcome: QuestionOutcome,
        answer: Answer | None = None,
        first_shown_s: float | None = None,
        total_s: float | None = None,
    ) -> None:
        """Count one question; with its answer, also the time each stage took."""
        self.questions.labels(platform, outcome).inc()
        if answer is not None:
            timings = answer.timings
            self.stage_seconds.labels("embed").observe(timings.embed_ms / 1000)
            self.stage_seconds.labels("search").observe(timings.search_ms / 1000)
            self.stage_seconds.labels("generate").observe(timings.generate_ms / 1000)
            if answer.usage is not None:
                self.llm_tokens.labels(platform, "prompt").inc(answer.usage.prompt_tokens)
                self.llm_tokens.labels(platform, "completion").inc(answer.usage.completion_tokens)
        if first_shown_s is not None:
            self.first_token_seconds.labels(platform).observe(first_shown_s)
        if total_s is not None:
            self.answer_seconds.labels(platform).observe(total_s)

    def vote(self, platform: str, vote: str) -> None:
        self.votes.labels(platform, vote).inc()

    def ingest_run(self, report: IngestReport | None) -> None:
        """Count one ingestion run; None when it failed."""
        if report is None:
            self.ingest_runs.labels("failed").inc()
            return
        self.ingest_runs.labels("ok").inc()
        self.ingested_files.labels("read").inc(report.files)
        self.ingested_files.labels("skipped").inc(len(report.skipped))
        self.ingested_files.labels("removed").inc(report.files_deleted)
        for change, count in (
            ("added", report.chunks_added),
            ("updated", report.chunks_updated),
            ("unchanged", report.chunks_unchanged),
            ("deleted", report.chunks_deleted),
        ):
            self.ingested_chunks.labels(change).inc(count)

    def source_synced(self, kb: str, source: str, ok: bool) -> None:
        """A sources-file source's last sync: failing (its chunks kept) or not."""
        self.sources_failing.labels(kb, source).set(0 if ok else 1)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
