"""Where every bench finds its inputs: the shared corpus is `../shared` beside the project, or
wherever HELPBOT_SHARED_DIR points (as the tests do); the held-out questions live here."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HELD_OUT_SET = PROJECT_ROOT / "bench" / "questions" / "milvus_faq_heldout.jsonl"


def shared_dir() -> Path:
    return Path(os.environ.get("HELPBOT_SHARED_DIR", PROJECT_ROOT.parent / "shared"))


def milvus_docs() -> Path:
    """The Milvus 2.4 documentation; its `faq/` folder is the small default corpus."""
    return shared_dir() / "corpus" / "milvus-docs-2.4.x"


def dev_set() -> Path:
    """The labelled FAQ questions every default was tuned on."""
    return shared_dir() / "corpus" / "eval" / "milvus_faq_dev.jsonl"
