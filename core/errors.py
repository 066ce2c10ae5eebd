"""The core's own errors; adapters map each to a short, friendly reply in the asker's language."""

from __future__ import annotations

from core.language import Language
from core.messages import message

__all__ = [
    "AnswerTimeoutError",
    "BadInputError",
    "ConfigError",
    "EmbeddingMismatchError",
    "FileInUseError",
    "HelpbotError",
    "ModelError",
    "NotIngestedError",
    "RetrievalError",
    "SharedStateError",
    "StaleChunkingError",
]


class HelpbotError(Exception):
    """Base of every error the core raises on purpose.

    `str(error)` is for logs and operators; `user_message(lang)` is what a chat user sees.
    """

    message_key = "internal_error"

    def user_message(self, lang: Language = "en") -> str:
        return message(self.message_key, lang)


class ConfigError(HelpbotError):
    """A setting is missing or invalid; the message names the variable."""


class BadInputError(HelpbotError):
    """The user's input cannot be used as it is (empty, too long, not a file...)."""

    def __init__(self, detail: str, message_key: str | None = None, **values: object):
        super().__init__(detail)
        self._key = message_key
        self._values = values

    def user_message(self, lang: Language = "en") -> str:
        if self._key is None:
            return str(self)
        return message(self._key, lang, **self._values)


class RetrievalError(HelpbotError):
    """Milvus or the embedder failed, so nothing could be searched."""

    message_key = "retrieval_failed"


class NotIngestedError(RetrievalError):
    """The collection does not exist yet."""

    message_key = "not_ingested"


class EmbeddingMismatchError(RetrievalError):
    """The collection was built with another embedding model or dimension."""

    message_key = "reingest_needed"


class StaleChunkingError(RetrievalError):
    """The collection was built with older chunking rules: searching it would mix old and new
    chunks, so it is re-ingested first."""

    message_key = "reingest_needed"


class ModelError(HelpbotError):
    """The language model endpoint failed after the client's own retries."""

    message_key = "model_failed"


class AnswerTimeoutError(HelpbotError):
    """The question's overall deadline passed before the answer was complete."""

    message_key = "timeout"


class SharedStateError(HelpbotError):
    """Redis (REDIS_URL), which holds the state several bot processes share, failed."""


class FileInUseError(HelpbotError):
    """A data file helpbot keeps (the embedding cache) stays locked by another process; the
    message names the file."""
