"""helpbot's core: a RAG service that knows no chat platform.

This is the API the adapters in `bots` use; a test checks that they import nothing else.
"""

from core.answering.excerpts import *
from core.answering.service import *
from core.container import *
from core.errors import *
from core.evaluation import *
from core.ingest.forget import *
from core.ingest.live_sync import *
from core.ingest.path_watch import *
from core.ingest.retries import *
from core.ingest.sources_file import *
from core.ingest.sources_sync import *
from core.ingest.sync import *
from core.language import *
from core.learning.answer_log import *
from core.learning.coverage import *
from core.learning.digest import *
from core.learning.gaps import *
from core.messages import *
from core.models import *
from core.private_files import *
from core.redis_client import *
from core.routing import *
from core.search.types import *
from core.settings import *

__all__ = [
    "DOWN_REASONS",
    "GAP_REVIEW_DAYS",
    "GAP_STATUSES",
    "KNOWLEDGE_BASE_NAME",
    "RETRY_FIRST_PAUSE_S",
    "SETTINGS_CONFIG",
    "Answer",
    "AnswerLog",
    "AnswerRecord",
    "AnswerTimeoutError",
    "BadInputError",
    "Citation",
    "Closest",
    "ConfigError",
    "CoverageGaps",
    "Digest",
    "EmbeddingMismatchError",
    "EvalItem",
    "EvalOutcome",
    "FileInUseError",
    "ForgetReport",
    "Fusion",
    "Gap",
    "GapStatus",
    "Helpbot",
    "HelpbotError",
    "Hit",
    "IngestReport",
    "Label",
    "Language",
    "LiveSync",
    "LoggedOutcome",
    "Mode",
    "ModelError",
    "NotIngestedError",
    "Origin",
    "Outcome",
    "Place",
    "Query",
    "RagService",
    "Readiness",
    "Retention",
    "Retries",
    "Retrieval",
    "RetrievalError",
    "Role",
    "RootRecord",
    "Routing",
    "ServiceConfig",
    "Settings",
    "SharedStateError",
    "Source",
    "SourceOutcome",
    "SourceSpec",
    "SourcesReport",
    "StaleChunkingError",
    "StreamEvent",
    "Timings",
    "TokenUsage",
    "Turn",
    "Vote",
    "build_answer_log",
    "connect_redis",
    "create_private_file",
    "detect_language",
    "evaluate",
    "follow_path",
    "load_eval_items",
    "load_routing",
    "load_settings",
    "load_sources_file",
    "make_private_folder",
    "message",
    "parse_duration",
    "read_eval_set",
    "read_settings",
    "separated",
    "shorten",
    "summarize",
    "sync_source",
    "sync_sources",
]
