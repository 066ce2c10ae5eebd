"""`helpbot eval`: recall and abstention figures on a labelled question file."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from bots.cli import main
from core.answering.prompts import NO_ANSWER, UNSURE
from core.errors import BadInputError
from core.evaluation import Label, in_section, load_eval_items, on_page
from core.ingest.chunking import chunk_markdown, collapse_whitespace
from core.search.types import Hit
from tests.standins.openai_server import OpenAIStandIn
from tests.support import PROJECT_ROOT, faq_dir, shared_dir, write

QUESTIONS = PROJECT_ROOT / "bench" / "questions"
HELD_OUT = QUESTIONS / "milvus_faq_heldout.jsonl"


def hit(source: str, heading: str, sections: tuple[str, ...] = ()) -> Hit:
    return Hit("id", source, "", "T", heading, 0, "body", 0.9, sections)


def test_a_hit_matches_on_a_path_boundary_and_collapsed_heading() -> None:
    label = Label("faq/product_faq.md", "Where does  Milvus store `data`?")
    assert in_section(
        hit("milvus-docs/faq/product_faq.md", "Where does Milvus store `data`?"), label
    )
    assert in_section(hit("faq/product_faq.md", "Where does Milvus\nstore `data`?"), label)
    assert not in_section(hit("oldfaq/product_faq.md", "Where does Milvus store `data`?"), label)
    assert not in_section(hit("faq/product_faq.md", "Where does Milvus store data?"), label)


def test_a_chunk_shows_a_section_it_overlaps_and_a_page_label_any_part_of_it() -> None:
    """Inside the section (the heading on its path) or holding its start (a small section
    merged in) both count; another section of the same page counts for the page only."""
    inside = hit("d/cli.md", "Options", ("CLI", "delete user", "Options"))
    merged = hit("d/cli.md", "CLI", ("CLI", "create alias", "delete user"))
    elsewhere = hit("d/cli.md", "list users", ("CLI", "list users"))
    label = Label("cli.md", "delete user")
    assert in_section(inside, label) and in_section(merged, label)
    assert not in_section(elsewhere, label) and on_page(elsewhere, label)
    assert in_section(elsewhere, Label("cli.md", None))


def test_eval_lines_take_several_answers_or_the_older_single_label(tmp_path: Path) -> None:
    path = write(
        tmp_path / "set.jsonl",
        '{"question": "a", "lang": "en", "answers": [{"source": "x.md", "heading": "H"}, '
        '{"source": "y.md", "heading": null}]}\n'
        '{"question": "b", "lang": "ja", "source": "z.md", "heading": "Z"}\n'
        '{"question": "c", "lang": "zh", "answers": []}\n'
        '{"question": "d", "lang": "en", "source": null, "heading": null}\n',
    )
    items = load_eval_items(path)
    assert items[0].answers == (Label("x.md", "H"), Label("y.md", None))
    assert items[1].answers == (Label("z.md", "Z"),)
    assert [item.answerable for item in items] == [True, True, False, False]


def test_a_bad_eval_line_is_reported_with_its_line_number(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.jsonl",
        '{"question": "q", "lang": "en", "source": null, '
        '"heading": null}\n{"question": "no labels"}\n',
    )
    with pytest.raises(Exception, match=r"bad.jsonl:2: not an eval item"):
        load_eval_items(path)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('{"question": "", "lang": "en", "answers": []}', '"question" must be a non-empty'),
        ('{"question": "q", "lang": 5, "answers": []}', '"lang" must be a language code'),
        ('{"question": "q", "lang": "en", "answers": [{"source": null}]}', '"source" must be'),
        (
            '{"question": "q", "lang": "en", "answers": [{"source": "a.md", "heading": 5}]}',
            '"heading" must',
        ),
        ('{"question": "q", "lang": "en", "answers": "a.md"}', '"answers" must be a list'),
        ('["q", "en"]', "one JSON object"),
        ('{"question": "q", "lang": "en"', "not JSON"),
    ],
)
def test_a_malformed_label_is_refused_with_what_is_wrong(
    tmp_path: Path, line: str, says: str
) -> None:
    """A label that could never match (a null or numeric one) is an error, not a silent miss."""
    path = write(tmp_path / "bad.jsonl", '{"question": "q", "lang": "en", "answers": []}\n' + line)
    with pytest.raises(BadInputError, match=rf"bad.jsonl:2: .*{re.escape(says)}"):
        load_eval_items(path)


def test_a_page_label_a_bom_and_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    page_only = '{"question": "q", "lang": "en", "source": "a.md"}\n'
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + page_only.encode())
    assert load_eval_items(bom)[0].answers == (Label("a.md", None),)
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes('{"question": "café", "lang": "fr", "answers": []}'.encode("latin-1"))
    with pytest.raises(BadInputError, match="is not UTF-8 text"):
        load_eval_items(latin1)


def test_a_question_the_service_refuses_names_its_line(
    monkeypatch, tmp_path, embedding_cache, docs, capsys
) -> None:
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "eval.db"))
    monkeypatch.setenv("EMBEDDING_CACHE_PATH", str(embedding_cache))
    assert main(["ingest", str(docs)]) == 0
    long = {"question": "why? " * 2000, "lang": "en", "answers": []}
    rows = [
        '{"question": "Where are backups kept?", "lang": "en", "answers": []}',
        json.dumps(long),
    ]
    path = write(tmp_path / "long.jsonl", "\n".join(rows) + "\n")
    capsys.readouterr()
    assert main(["eval", str(path)]) == 2
    assert "line 2 of the eval file: " in capsys.readouterr().err


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
    english = figures["by_lang"]["en"]
    assert {k: english[k] for k in ("n", "recall@1", "recall@2", "mrr", "page@2")} == {
        "n": 2,
        "recall@1": 1.0,
        "recall@2": 1.0,
        "mrr": 1.0,
        "page@2": 1.0,
    }
    assert english["outcomes"]["unanswerable"]["dont_know"] == 1
    assert figures["by_lang"]["ja"]["n"] == 1
    assert figures["unanswerable"] == {"n": 1, "abstained": 1, "unsure": 0}
    assert figures["answerable_abstained"] == 0
    assert figures["needs_label"] == 0


def test_eval_table_is_printed_for_people(
    monkeypatch, tmp_path, embedding_cache, docs, eval_file, capsys
) -> None:
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "eval.db"))
    monkeypatch.setenv("EMBEDDING_CACHE_PATH", str(embedding_cache))
    main(["ingest", str(docs)])
    capsys.readouterr()
    assert main(["eval", str(eval_file)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "lang",
        "n",
        "recall@1",
        "recall@3",
        "mrr",
        "page@1",
        "page@3",
        "page_mrr",
        "outcomes",
    ]
    assert 'unanswerable: 1/1 answered "I don\'t know", 0 "unsure"' in out


def test_eval_of_a_missing_file_exits_2(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "eval.db"))
    assert main(["eval", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read eval file" in capsys.readouterr().err


async def eval_with_model(
    monkeypatch, tmp_path, embedding_cache, docs, eval_file, capsys, *replies: str
) -> tuple[dict, list[str]]:
    """`helpbot eval --json --answers` on the docs, the stand-in model answering `replies` in
    turn; the figures, and the questions the model was asked."""
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "eval.db"))
    monkeypatch.setenv("EMBEDDING_CACHE_PATH", str(embedding_cache))
    assert await asyncio.to_thread(main, ["ingest", str(docs)]) == 0
    capsys.readouterr()
    async with OpenAIStandIn() as llm:
        monkeypatch.setenv("LLM_BASE_URL", llm.base_url)
        monkeypatch.setenv("LLM_API_KEY", "test-key")
        llm.reply_with(*replies)
        code = await asyncio.to_thread(main, ["eval", str(eval_file), "--json", "--answers"])
        asked = [call.json["messages"][-1]["content"] for call in llm.chat_calls()]
    assert code == 0
    return json.loads(capsys.readouterr().out), asked


async def test_eval_with_answers_counts_the_models_refusals(
    monkeypatch, tmp_path, embedding_cache, docs, eval_file, capsys
) -> None:
    """With --answers, a question the model refuses counts as "I don't know"; a question under
    the relevance threshold still never reaches the model; recall is unchanged."""
    figures, asked = await eval_with_model(
        monkeypatch,
        tmp_path,
        embedding_cache,
        docs,
        eval_file,
        capsys,
        NO_ANSWER,
        "You need 8 GB of memory [1].",
        NO_ANSWER,
    )
    assert figures["answerable_abstained"] == 2
    assert figures["unanswerable"] == {"n": 1, "abstained": 1, "unsure": 0}
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
        (label.source, label.heading)
        for item in answerable
        for label in item.answers
        if (label.source, collapse_whitespace(label.heading or "")) not in sections
    ]
    assert missing == []


def docs_headings(source: str) -> set[str] | None:
    """Every heading (levels 1 to 4) of a file of the whole docs, as helpbot reads them; None
    when the file does not exist."""
    path = shared_dir() / "corpus" / "milvus-docs-2.4.x" / source
    if not path.is_file():
        return None
    chunks = chunk_markdown(path.read_text(encoding="utf-8"), path.stem, 1_000_000, 0)
    return {collapse_whitespace(h) for chunk in chunks for h in (chunk.title, *chunk.sections)}


@pytest.mark.parametrize(
    ("name", "answerable", "unanswerable"),
    [
        ("milvus_docs_dev.jsonl", 100, 15),
        ("milvus_docs_heldout.jsonl", 70, 15),
        ("milvus_faq_dev_reviewed.jsonl", 65, 6),
    ],
)
def test_every_whole_docs_label_names_a_file_and_section_of_the_docs(
    name: str, answerable: int, unanswerable: int
) -> None:
    """The whole-docs labels point at real files and headings, as helpbot chunks them (a
    drifted label would count as a miss); the sets keep their documented size."""
    faq_dir()  # skips (or fails in CI) without the shared corpus
    items = load_eval_items(QUESTIONS / name)
    answered = [item for item in items if item.answerable]
    assert len(answered) >= answerable and len(items) - len(answered) >= unanswerable
    wrong = []
    for item in answered:
        for label in item.answers:
            headings = docs_headings(label.source)
            if headings is None or (
                label.heading is not None and collapse_whitespace(label.heading) not in headings
            ):
                wrong.append((label.source, label.heading))
    assert wrong == []


def test_the_reviewed_faq_labels_keep_every_original_label_first() -> None:
    """The reviewed file adds pages to the dev set's labels; it never drops or reorders them."""
    original = load_eval_items(shared_dir() / "corpus" / "eval" / "milvus_faq_dev.jsonl")
    reviewed = load_eval_items(QUESTIONS / "milvus_faq_dev_reviewed.jsonl")
    assert [(i.question, i.lang) for i in original] == [(i.question, i.lang) for i in reviewed]
    for before, after in zip(original, reviewed, strict=True):
        assert after.answers[: len(before.answers)] == before.answers


async def test_eval_with_answers_counts_a_hedged_reply_as_unsure(
    monkeypatch, tmp_path, embedding_cache, docs, eval_file, capsys
) -> None:
    """The model's hedge marker makes an answer "unsure"; its refusal, "I don't know" (the
    stand-in's replies are scripted: this tests the plumbing, not a model)."""
    figures, _ = await eval_with_model(
        monkeypatch,
        tmp_path,
        embedding_cache,
        docs,
        eval_file,
        capsys,
        f"{UNSURE} Nightly, it seems [1].",
        "You need 8 GB [1].",
        NO_ANSWER,
    )
    assert (figures["answerable_unsure"], figures["answerable_abstained"]) == (1, 1)
    assert figures["by_lang"]["en"]["outcomes"]["answerable"] == {
        "answered": 1,
        "unsure": 1,
        "dont_know": 0,
    }
