"""`helpbot eval`: recall and abstention figures on a labelled question file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bots.cli import main
from core.answering.prompts import NO_ANSWER
from core.evaluation import EvalItem, is_match, load_eval_items
from core.ingest.chunking import chunk_markdown, collapse_whitespace
from core.search.types import Hit
from tests.standins.openai_server import OpenAIStandIn
from tests.support import faq_dir, write

HELD_OUT = Path(__file__).resolve().parents[1] / "bench" / "questions" / "milvus_faq_heldout.jsonl"


def hit(source: str, heading: str) -> Hit:
    return Hit("id", source, "", "T", heading, 0, "body", 0.9)


def test_a_hit_matches_on_a_path_boundary_and_collapsed_heading() -> None:
    item = EvalItem("q", "en", "faq/product_faq.md", "Where does  Milvus store `data`?")
    assert is_match(hit("milvus-docs/faq/product_faq.md", "Where does Milvus store `data`?"), item)
    assert is_match(hit("faq/product_faq.md", "Where does Milvus\nstore `data`?"), item)
    assert not is_match(hit("oldfaq/product_faq.md", "Where does Milvus store `data`?"), item)
    assert not is_match(hit("faq/product_faq.md", "Where does Milvus store data?"), item)
    assert not is_match(hit("faq/product_faq.md", "x"), EvalItem("q", "en", None, None))


def test_a_bad_eval_line_is_reported_with_its_line_number(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.jsonl",
        '{"question": "q", "lang": "en", "source": null, '
        '"heading": null}\n{"question": "no labels"}\n',
    )
    with pytest.raises(Exception, match=r"bad.jsonl:2: not an eval item"):
        load_eval_items(path)


@pytest.fixture
def eval_file(tmp_path: Path) -> Path:
    rows = [
        {
            "question": "How often are snapshots taken by the backup tool?",
            "lang": "en",
            "source": "docs/storage.md",
            "heading": "Backups",
        },
        {
            "question": "How much memory do I need to install it?",
            "lang": "en",
            "source": "setup/install.md",
            "heading": "Requirements",
        },
        {
            "question": "backup toolのsnapshotは毎晩取られますか？",
            "lang": "ja",
            "source": "storage.md",
            "heading": "Backups",
        },
        {
            "question": "What is a good recipe for banana bread?",
            "lang": "en",
            "source": None,
            "heading": None,
        },
    ]
    return write(tmp_path / "eval.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")


def test_eval_json_reports_recall_per_language_and_abstentions(
    monkeypatch, tmp_path, embedding_cache, docs, eval_file, capsys
) -> None:
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "eval.db"))
    monkeypatch.setenv("EMBEDDING_CACHE_PATH", str(embedding_cache))
    assert main(["ingest", str(docs)]) == 0
    capsys.readouterr()
    assert main(["eval", str(eval_file), "--json", "--k", "2"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["k"] == 2
    assert set(figures["by_lang"]) == {"en", "ja"}
    assert figures["by_lang"]["en"] == {"n": 2, "recall@1": 1.0, "recall@2": 1.0, "mrr": 1.0}
    assert figures["by_lang"]["ja"]["n"] == 1
    assert figures["unanswerable"] == {"n": 1, "abstained": 1}
    assert figures["answerable_abstained"] == 0


def test_eval_table_is_printed_for_people(
    monkeypatch, tmp_path, embedding_cache, docs, eval_file, capsys
) -> None:
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "eval.db"))
    monkeypatch.setenv("EMBEDDING_CACHE_PATH", str(embedding_cache))
    main(["ingest", str(docs)])
    capsys.readouterr()
    assert main(["eval", str(eval_file)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["lang", "n", "recall@1", "recall@3", "mrr"]
    assert 'unanswerable: 1/1 answered "I don\'t know"' in out


def test_eval_of_a_missing_file_exits_2(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "eval.db"))
    assert main(["eval", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read eval file" in capsys.readouterr().err


async def test_eval_with_answers_counts_the_models_refusals(
    monkeypatch, tmp_path, embedding_cache, docs, eval_file, capsys
) -> None:
    """With --answers, a question the model refuses counts as "I don't know"; a question under
    the relevance threshold still never reaches the model; recall is unchanged."""
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "eval.db"))
    monkeypatch.setenv("EMBEDDING_CACHE_PATH", str(embedding_cache))
    assert await asyncio.to_thread(main, ["ingest", str(docs)]) == 0
    capsys.readouterr()
    async with OpenAIStandIn() as llm:
        monkeypatch.setenv("LLM_BASE_URL", llm.base_url)
        monkeypatch.setenv("LLM_API_KEY", "test-key")
        llm.reply_with(NO_ANSWER, "You need 8 GB of memory [1].", NO_ANSWER)
        code = await asyncio.to_thread(main, ["eval", str(eval_file), "--json", "--answers"])
        asked = [call.json["messages"][-1]["content"] for call in llm.chat_calls()]
    assert code == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["answerable_abstained"] == 2
    assert figures["unanswerable"] == {"n": 1, "abstained": 1}
    assert figures["by_lang"]["en"]["recall@1"] == 1.0
    assert len(asked) == 3 and not any("banana" in text for text in asked)


def test_eval_with_answers_but_no_model_says_what_to_set(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "eval.db"))
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    monkeypatch.delenv("LLM_API_KEY", raising=False)
    assert main(["eval", str(tmp_path / "any.jsonl"), "--answers"]) == 2
    err = capsys.readouterr().err
    assert "LLM_BASE_URL" in err and err.count("\n") == 1


def test_every_held_out_label_names_a_section_of_the_faq() -> None:
    """The held-out set's answers are real sections, as helpbot chunks them: a label that
    drifted from the docs would count as a miss and understate recall."""
    faq = faq_dir()
    sections = {
        (f"faq/{path.name}", collapse_whitespace(chunk.heading))
        for path in faq.glob("*.md")
        for chunk in chunk_markdown(path.read_text(encoding="utf-8"), path.stem, 10_000, 0)
    }
    items = load_eval_items(HELD_OUT)
    answerable = [item for item in items if item.answerable]
    assert len(answerable) == 45 and len(items) - len(answerable) == 30
    missing = [
        (item.source, item.heading)
        for item in answerable
        if (item.source, collapse_whitespace(item.heading or "")) not in sections
    ]
    assert missing == []
