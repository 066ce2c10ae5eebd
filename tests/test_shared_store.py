"""While `helpbot serve` runs on the default Milvus Lite file, every other command works on the
same data (through the engine serve runs for it), two writers never interleave, and the
engine never outlives serve, not even a kill -9."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.container import Helpbot
from core.errors import RetrievalError
from core.private_files import create_private_file
from core.search.milvus.lite_engine import engine_log, engine_record, shared_engine_uri
from tests.standins.slack_server import SlackStandIn
from tests.support import write
from tests.test_serve import ask_slack

HELPBOT = str(Path(sys.executable).with_name("helpbot"))


def helpbot(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HELPBOT, *argv], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def env(tmp_path: Path, embedding_cache: Path) -> dict[str, str]:
    write(tmp_path / "docs" / "backups.md", "# Backups\n\nBackups run every night at two.\n")
    sources = write(tmp_path / "sources.toml", '[[source]]\npath = "docs"\n')
    return {
        **os.environ,
        "MILVUS_URI": str(tmp_path / "data" / "helpbot.db"),
        "EMBEDDING_CACHE_PATH": str(embedding_cache),
        "FEEDBACK_PATH": str(tmp_path / "data" / "feedback.sqlite"),
        "SOURCES_FILE": str(sources),
    }


@pytest.fixture
def serving(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`helpbot serve` (the sources file only), until its first sync is done."""
    process = subprocess.Popen(
        [HELPBOT, "serve", "--health-port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _until(lambda: shared_engine_uri(env["MILVUS_URI"]), "serve to start its engine")
        _until(
            lambda: "backups.md" in helpbot(env, "ask", "--json", "When do backups run?").stdout,
            "the first sync",
        )
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def _until(check, what: str, timeout_s: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_other_commands_share_the_file_while_serve_runs(
    env: dict[str, str], serving: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    write(notes / "travel.md", "# Travel\n\nBook trains through the travel desk.\n")
    ingested = helpbot(env, "ingest", "--json", str(notes))
    assert ingested.returncode == 0, ingested.stderr
    asked = helpbot(env, "ask", "--json", "How do I book a train?")
    stats = helpbot(env, "stats", "--json")
    assert asked.returncode == 0 and json.loads(asked.stdout)["sources"][0]["source"] == (
        "notes/travel.md"
    )
    assert stats.returncode == 0, stats.stderr
    assert serving.poll() is None  # serve still running


def test_two_ingests_at_once_end_as_two_in_turn(
    env: dict[str, str], serving: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    folders = []
    for name in ("alpha", "beta"):
        folder = tmp_path / name
        for n in range(3):
            write(folder / f"{name}{n}.md", f"# {name} {n}\n\nThe {name} page number {n}.\n")
        folders.append(folder)
    running = [
        subprocess.Popen(
            [HELPBOT, "ingest", "--json", str(folder)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in folders
    ]
    reports = [json.loads(process.communicate(timeout=300)[0]) for process in running]
    assert [report["chunks_added"] for report in reports] == [3, 3]
    again = [json.loads(helpbot(env, "ingest", "--json", str(f)).stdout) for f in folders]
    assert [report["chunks_unchanged"] for report in again] == [3, 3]


def test_the_engine_dies_with_serve_and_a_stale_record_is_ignored(env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [HELPBOT, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    record = engine_record(env["MILVUS_URI"])
    try:
        _until(lambda: shared_engine_uri(env["MILVUS_URI"]), "serve to start its engine")
        engine = json.loads(record.read_text())["pid"]
    finally:  # never left running, whatever failed
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    _until(lambda: not _running(engine), "the engine to die with serve", timeout_s=30)
    stats = helpbot(env, "stats", "--json")  # the record is stale: the file opens directly
    assert stats.returncode == 0, stats.stderr
    assert record.exists()  # left by the kill; the next serve replaces it


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_serve_says_plainly_when_another_process_has_the_file_open(make_settings) -> None:
    """A command that opened the Lite file before serve started holds it: serve's engine
    cannot open it, and the error says so, not just an exit status."""
    settings = make_settings()
    async with Helpbot(settings):
        with pytest.raises(RetrievalError, match="another process has it open"):
            async with Helpbot(settings, share_store=True):
                pass
    assert engine_log(str(settings.milvus_uri)).exists()


async def test_a_second_serve_is_refused_and_a_dead_ones_record_names_no_process(
    make_settings,
) -> None:
    """A serve holds its record while it runs: a second one is refused. A record left by a
    serve that died is stale whatever process now has its ids (after a kill -9 and a
    restart, or in a container where serve is pid 1 every time): nothing named in it is
    killed, and serve starts."""
    settings = make_settings()
    path = str(settings.milvus_uri)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        create_private_file(engine_record(path))
        left = {"port": 1, "pid": bystander.pid, "owner": os.getpid()}
        engine_record(path).write_text(json.dumps(left))
        async with Helpbot(settings, share_store=True):
            assert bystander.poll() is None
            assert json.loads(engine_record(path).read_text())["pid"] != bystander.pid
            with pytest.raises(RetrievalError, match="already served by helpbot serve"):
                async with Helpbot(settings, share_store=True):
                    pass
            async with Helpbot(settings) as other:  # another command: through the engine
                assert not await other.store.exists()
        assert not engine_record(path).exists()
    finally:
        bystander.kill()
        bystander.wait()


async def test_serve_answers_in_slack_from_what_other_commands_add_then_forget(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The whole case, through the real clients: `serve` answers on Slack from the default
    file while other processes ingest a page (answered at once), run the sources file, list
    the answer log and evaluate, and forget the page (no longer answered from)."""
    notes = tmp_path / "notes"
    write(notes / "travel.md", "# Travel\n\nBook trains through the travel desk.\n")
    cases = write(
        tmp_path / "travel.jsonl",
        '{"question": "How do I book a train?", "lang": "en", '
        '"answers": [{"source": "notes/travel.md"}]}\n',
    )
    async with SlackStandIn() as slack:
        chat = {
            **env,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_APP_TOKEN": "xapp-1-test",
            "SLACK_API_URL": slack.api_url,
            "SLACK_COOLDOWN_S": "0",
        }
        process = subprocess.Popen(
            [HELPBOT, "serve"], env=chat, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            await slack.wait_connected(timeout=120)
            await asyncio.to_thread(_until, lambda: shared_engine_uri(env["MILVUS_URI"]), "engine")

            def run(*argv: str) -> subprocess.CompletedProcess[str]:
                done = helpbot(env, *argv)
                assert done.returncode == 0, (argv, done.stderr)
                return done

            await asyncio.to_thread(run, "ingest", str(notes))
            found = await ask_slack(slack, "How do I book a train?", "1700001000.000001")
            synced = await asyncio.to_thread(run, "sync")
            logged = await asyncio.to_thread(run, "feedback", "--json")
            evaluated = await asyncio.to_thread(run, "eval", str(cases))
            forgot = await asyncio.to_thread(run, "forget", str(notes))
            gone = await ask_slack(slack, "How do I book a train?", "1700001001.000001")
            still_serving = process.poll() is None
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, 60)
    assert "travel desk" in found and "travel desk" not in gone
    assert "docs" in synced.stdout
    assert "How do I book a train?" in logged.stdout
    assert "recall@" in evaluated.stdout
    assert "forgot 1 chunks of 1 files" in forgot.stdout
    assert still_serving
