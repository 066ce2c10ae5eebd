"""Log set-up for every `helpbot` command: text for people, JSON lines for log pipelines, and
a request id that ties together every line logged while one question is answered."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import uuid
from collections.abc import Iterator
from typing import Literal, TextIO

from pythonjsonlogger.json import JsonFormatter

# Libraries that log their own tracebacks for errors helpbot reports in one line.
_NOISY_LOGGERS = ("pymilvus", "milvus_lite", "grpc")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
_HANDLER_NAME = "helpbot"
_JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


@contextlib.contextmanager
def request_scope() -> Iterator[str]:
    """A fresh request id for the lines logged inside the block (asyncio tasks started
    inside inherit it); yields the id."""
    token = _request_id.set(uuid.uuid4().hex[:16])
    try:
        yield _request_id.get()
    finally:
        _request_id.reset(token)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is when a line is logged, not when set up: test
    runners and tools swap it, and a handler kept on a closed stream breaks logging."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


def configure_logging(
    level: int = logging.WARNING, log_format: Literal["text", "json"] = "text"
) -> None:
    """Log to stderr at `level`, as text or JSON lines (LOG_FORMAT=json). Calling it again
    replaces helpbot's handler and leaves any other (a test runner's) in place."""
    handler = _StderrHandler()
    handler.addFilter(_RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                _JSON_FIELDS,
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(
            logging.INFO if level <= logging.DEBUG else logging.CRITICAL
        )
