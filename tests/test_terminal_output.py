"""What the CLI prints never carries a control character or an escape sequence from a
document, a file name or a chat user: not to a terminal, not into a pipe, not inside JSON."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
from pathlib import Path

import pytest

from bots.cli import main
from bots.cli.output import PlainTextStream, plain_text
from core.container import build_answer_log
from core.models import Answer, Origin, Query, Source
from core.settings import Settings
from tests.support import write

RED, RESET = "\x1b[31m", "\x1b[0m"
LINK = "\x1b]8;;https://evil.test/\x07"  # OSC 8: a hidden hyperlink, ended by BEL
LINK_END = "\x1b]8;;\x1b\\"  # ended by ST
CLEAR = "\x9b2J"  # C1 CSI: clear the screen
TITLE = "\x1b]0;owned\x07"  # OSC 0: the window title
# No NUL (the file would be binary) and no CR (a line break to the Markdown parser).
HOSTILE = f"{RED}{LINK}{CLEAR}{TITLE}\x07\x08\x7f\x1bc{LINK_END}{RESET}"
# Anything a terminal acts on: C0 controls but tab and newline, DEL, C1 controls.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedding_cache: Path) -> Path:
    """Settings from the environment, as for a user; the Lite file is the test's own."""
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "data" / "helpbot.db"))
    monkeypatch.setenv("EMBEDDING_CACHE_PATH", str(embedding_cache))
    monkeypatch.setenv("FEEDBACK_PATH", str(tmp_path / "data" / "feedback.sqlite"))
    return tmp_path


@pytest.fixture
def hostile_docs(env: Path) -> Path:
    """A page whose title, heading, link and text carry escape sequences."""
    return write(
        env / "docs" / "backups.md",
        f"# Back{HOSTILE}ups guide\n\n"
        f"## When do {RED}backups{RESET} run?\n\n"
        f"Snapshots are taken {LINK}nightly{LINK_END} by the backup tool.{HOSTILE}\n",
    ).parent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ask_prints_an_answer_from_a_document_with_escape_codes_as_plain_text(
    env, hostile_docs, capsys
) -> None:
    run(capsys, "ingest", str(hostile_docs), "--url", "https://x.test/{stem}" + HOSTILE)
    code, out, err = run(capsys, "ask", "When are snapshots taken?")
    assert code == 0
    assert "Snapshots are taken nightly by the backup tool." in out
    assert "[1] Backups guide > When do backups run? (docs/backups.md) <https://x.test/" in out
    assert CONTROL.findall(out) == [] and CONTROL.findall(err) == []


def test_ask_json_escapes_every_control_and_keeps_the_text(env, hostile_docs, capsys) -> None:
    run(capsys, "ingest", str(hostile_docs))
    code, out, _ = run(capsys, "ask", "--json", "When are snapshots taken?")
    assert code == 0 and CONTROL.findall(out) == []
    answer = json.loads(out)
    assert LINK in answer["answer"] and CLEAR in answer["answer"]  # the data itself is kept
    assert CLEAR in answer["sources"][0]["title"]


def test_chat_prints_answers_and_sources_as_plain_text(
    env, hostile_docs, capsys, monkeypatch
) -> None:
    run(capsys, "ingest", str(hostile_docs))
    monkeypatch.setattr(sys, "stdin", io.StringIO("When are snapshots taken?\nand when?\n\n"))
    code, out, err = run(capsys, "chat")
    assert code == 0 and out.count("Sources:") == 2
    assert CONTROL.findall(out) == [] and CONTROL.findall(err) == []


def test_ingest_prints_a_hostile_file_name_as_plain_text(env, capsys) -> None:
    folder = env / "docs"
    write(folder / "notes.md", "# Notes\n\nThe rota lives in the wiki.\n")
    (folder / f"image{RED}.png").write_bytes(b"\x89PNG\0")
    code, out, err = run(capsys, "ingest", str(folder))
    assert code == 0 and "skipped docs/image[31m.png" not in err
    assert "skipped docs/image.png: unsupported file type (.png)" in err
    assert CONTROL.findall(out) == [] and CONTROL.findall(err) == []
    code, out, _ = run(capsys, "ingest", "--json", str(folder))
    assert CONTROL.findall(out) == []
    assert json.loads(out)["skipped"][0]["source"] == f"docs/image{RED}.png"


def test_feedback_prints_a_question_with_escape_codes_as_plain_text(env, capsys) -> None:
    async def seed() -> None:
        log = build_answer_log(Settings(_env_file=None, feedback_path=env / "data" / "f.sqlite"))
        await log.start()
        source = Source(1, f"faq{CLEAR}.md", "FAQ", "Backups", "snippet", 0.9)
        await log.save_answer(
            Query(f"how do {HOSTILE}backups work?", origin=Origin("slack", "T1", "C9", "U7")),
            Answer(f"Nightly {LINK}[1]", True, "extractive", (source,)),
        )
        await log.stop()

    asyncio.run(seed())
    (env / "data" / "f.sqlite").replace(env / "data" / "feedback.sqlite")
    code, out, _ = run(capsys, "feedback")
    assert code == 0 and "slack/C9/U7  how do backups work?" in out
    assert CONTROL.findall(out) == []
    code, out, _ = run(capsys, "feedback", "--json")
    assert CONTROL.findall(out) == [] and json.loads(out)["answer"] == f"Nightly {LINK}[1]"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_a_sequence_split_between_streamed_pieces_never_shows(size: int) -> None:
    text = f"Run {RED}backup{RESET} now {LINK}here{LINK_END}{CLEAR}, then{TITLE} rest."
    stream = PlainTextStream()
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    printed = "".join(stream.feed(piece) for piece in pieces) + stream.end()
    assert printed == "Run backup now here, then rest." == plain_text(text)


def test_plain_text_keeps_tabs_newlines_and_unicode() -> None:
    assert plain_text("a\tb\nc é 日本 \u00a0 [31m") == "a\tb\nc é 日本 \u00a0 [31m"
    assert plain_text("\x00\x01\r\x0b\x0c\x1f\x7f\x80\x85\x9f|") == "|"


def test_an_unterminated_string_sequence_loses_only_its_introducer() -> None:
    assert (
        plain_text("before \x1b]8;;https://evil.test/ after")
        == "before 8;;https://evil.test/ after"
    )
    stream = PlainTextStream()
    assert stream.feed("a \x1b]0;title") == "a "
    assert stream.end() == "0;title"
