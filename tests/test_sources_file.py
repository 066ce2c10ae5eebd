"""The sources file: `helpbot sync` keeps each knowledge base in step with what the file names,
removes what it no longer names (and nothing added by hand), and `helpbot forget` deletes
what it is told to, saying how much went."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bots.cli.main import main
from core import ConfigError, load_sources_file
from core.container import Helpbot
from core.settings import Settings
from tests.support import write


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedding_cache: Path) -> Path:
    monkeypatch.setenv("MILVUS_URI", str(tmp_path / "data" / "helpbot.db"))
    monkeypatch.setenv("EMBEDDING_CACHE_PATH", str(embedding_cache))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    handbook = tmp_path / "handbook"
    write(handbook / "backups.md", "# Backups\n\nBackups run every night at two.\n")
    write(handbook / "restore.md", "# Restore\n\nRestore a snapshot with the backup tool.\n")
    eng = tmp_path / "eng"
    write(eng / "deploys.md", "# Deploys\n\nDeploys happen on Tuesdays after review.\n")
    by_hand = tmp_path / "notes"
    write(by_hand / "travel.md", "# Travel\n\nBook trains through the travel desk.\n")
    return {"handbook": handbook, "eng": eng, "notes": by_hand}


def sources_file(path: Path, *entries: str) -> Path:
    return write(path, "\n".join(f"[[source]]\n{entry}\n" for entry in entries))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def stored_sources() -> dict[str, set[str]]:
    """Source names by knowledge base, as Milvus holds them now."""
    return asyncio.run(_stored_sources())


async def _stored_sources() -> dict[str, set[str]]:
    async with Helpbot(Settings(_env_file=None)) as bot:  # type: ignore[call-arg]
        await bot.store.open(bot.embedder.model_id, await bot.embedder.dimension())
        found: dict[str, set[str]] = {}
        for ref in await bot.store.chunk_refs():
            found.setdefault(ref.kb, set()).add(ref.source)
        return found


def test_sync_follows_the_file_and_never_touches_what_was_added_by_hand(
    env: Path, folders: dict[str, Path], capsys
) -> None:
    file = sources_file(
        env / "sources.toml",
        'kb = "handbook"\npath = "handbook"\nlink = "https://handbook.example.com/{path}"',
        'kb = "eng"\npath = "eng"',
    )
    assert run(capsys, "ingest", str(folders["notes"]), "--kb", "handbook")[0] == 0
    code, out, _ = run(capsys, "sync", "--file", str(file), "--json")
    assert code == 0
    report = json.loads(out)
    assert [(s["kb"], s["ok"], s["chunks_added"]) for s in report["sources"]] == [
        ("handbook", True, 2),
        ("eng", True, 1),
    ]
    assert stored_sources() == {
        "handbook": {"handbook/backups.md", "handbook/restore.md", "notes/travel.md"},
        "eng": {"eng/deploys.md"},
    }
    # The file drops the handbook: its chunks go, the folder ingested by hand stays.
    sources_file(file, 'kb = "eng"\npath = "eng"')
    code, out, _ = run(capsys, "sync", "--file", str(file))
    assert code == 0
    assert f"removed {folders['handbook']} (handbook): no longer in the file" in out
    assert stored_sources() == {
        "handbook": {"notes/travel.md"},
        "eng": {"eng/deploys.md"},
    }


def test_a_failing_source_keeps_its_chunks_and_the_others_sync(
    env: Path, folders: dict[str, Path], capsys
) -> None:
    file = sources_file(env / "sources.toml", 'path = "handbook"', 'path = "eng"')
    assert run(capsys, "sync", "--file", str(file))[0] == 0
    folders["handbook"].rename(env / "gone")
    write(folders["eng"] / "oncall.md", "# On call\n\nThe rota changes on Mondays.\n")
    code, _, err = run(capsys, "sync", "--file", str(file))
    assert code == 1
    assert f"FAILED {folders['handbook']} (default): no such file or folder" in err
    code, out, _ = run(capsys, "stats", "--json")
    ingested = {root["origin"]: root for root in json.loads(out)["ingested"]}
    assert "no such file or folder" in ingested[str(folders["handbook"])]["error"]
    assert ingested[str(folders["eng"])]["error"] is None
    assert ingested[str(folders["eng"])]["owner"] == "sources-file"
    assert ingested[str(folders["eng"])]["synced_at"] is not None
    assert stored_sources() == {
        "default": {
            "handbook/backups.md",
            "handbook/restore.md",
            "eng/deploys.md",
            "eng/oncall.md",
        }
    }


def test_a_source_moved_in_the_file_replaces_its_old_self(
    env: Path, folders: dict[str, Path], capsys
) -> None:
    """`~/a/handbook` to `~/b/handbook` in the file is an edit, not a second folder of the
    same name to refuse."""
    file = sources_file(env / "sources.toml", 'path = "handbook"')
    assert run(capsys, "sync", "--file", str(file))[0] == 0
    moved = env / "b" / "handbook"
    write(moved / "travel.md", "# Travel\n\nBook trains through the travel desk.\n")
    sources_file(file, 'path = "b/handbook"')
    assert run(capsys, "sync", "--file", str(file))[0] == 0
    assert stored_sources() == {"default": {"handbook/travel.md"}}


def test_forget_deletes_what_it_names_and_says_how_much(
    env: Path, folders: dict[str, Path], capsys
) -> None:
    for name in ("handbook", "eng"):
        assert run(capsys, "ingest", str(folders[name]))[0] == 0
    assert run(capsys, "ingest", str(folders["notes"]), "--kb", "travel")[0] == 0

    code, _, err = run(capsys, "forget", "handbok")
    assert code == 2 and "nothing in knowledge base 'default' matches handbok" in err
    code, out, _ = run(capsys, "forget", "handbook/restore.md", "--json")
    assert code == 0 and json.loads(out) == {"kb": "default", "chunks": 1, "files": 1}
    code, out, _ = run(capsys, "forget", str(folders["eng"]))  # the path as it was ingested
    assert code == 0 and "forgot 1 chunks of 1 files in knowledge base 'default'" in out
    assert stored_sources() == {
        "default": {"handbook/backups.md"},
        "travel": {"notes/travel.md"},
    }
    code, out, _ = run(capsys, "forget", "--kb", "travel")
    assert code == 0 and "forgot 1 chunks" in out
    assert stored_sources() == {"default": {"handbook/backups.md"}}
    assert run(capsys, "forget")[0] == 2  # naming nothing deletes nothing
    # A forgotten folder is no longer on record: another folder of its name may come in.
    write(env / "other" / "eng" / "x.md", "# X\n\nSomething else.\n")
    assert run(capsys, "ingest", str(env / "other" / "eng"))[0] == 0


@pytest.fixture
def page_server() -> Iterator[tuple[str, list[str | None]]]:
    """A page served from a thread (the CLI runs its own event loop), and the Authorization
    header of each request."""
    seen: list[str | None] = []

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the standard library's name
            seen.append(self.headers.get("Authorization"))
            body = b"# FAQ\n\nAsk the team channel first.\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/markdown")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/faq.md", seen
    server.shutdown()


def test_a_url_source_sends_its_token_and_never_stores_or_prints_it(
    env: Path, capsys, monkeypatch: pytest.MonkeyPatch, page_server
) -> None:
    page, seen = page_server
    monkeypatch.setenv("DOCS_TOKEN", "tok-very-secret")
    file = sources_file(
        env / "sources.toml", f'url = "{page}"\ntoken_env = "DOCS_TOKEN"\nrefresh = "1h"'
    )
    code, out, err = run(capsys, "-v", "sync", "--file", str(file))
    assert code == 0 and "tok-very-secret" not in out + err
    assert seen == ["Bearer tok-very-secret"]
    monkeypatch.delenv("DOCS_TOKEN")
    code, _, err = run(capsys, "sync", "--file", str(file))
    assert code == 1 and "token_env DOCS_TOKEN is not set" in err
    assert stored_sources() == {"default": {page.removeprefix("http://")}}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('path = "a"\nurl = "https://x.test/a"', "exactly one of path, url, sitemap"),
        ('path = "a"\nmax_pages = 3', "max_pages is for a sitemap"),
        ('sitemap = "https://x.test/s.xml"\nmax_pages = 0', "at least 1"),
        ('sitemap = "docs/sitemap.xml"', "sitemap must start with http"),
        ('pth = "a"', "unknown key 'pth'"),
        ('path = "a"\nkb = "bad kb!"', "is not a knowledge base name"),
        ('url = "ftp://x.test/a"', "must start with http"),
        ('url = "https://x.test/a"\nrefresh = "soon"', "must be a duration"),
        ('url = "https://x.test/a"\nrefresh = "10s"', "at least a minute"),
    ],
)
def test_mistakes_in_the_sources_file_are_named(tmp_path: Path, entry: str, message: str) -> None:
    file = sources_file(tmp_path / "sources.toml", entry)
    with pytest.raises(ConfigError, match=message) as raised:
        load_sources_file(file, "default")
    assert str(file) in str(raised.value) and "source 1" in str(raised.value)


def test_the_same_source_twice_is_refused(tmp_path: Path) -> None:
    file = sources_file(tmp_path / "s.toml", 'path = "docs"', f'path = "{tmp_path / "docs"}"')
    with pytest.raises(ConfigError, match="sources 1 and 2 are the same"):
        load_sources_file(file, "default")


def test_durations_and_relative_paths(tmp_path: Path) -> None:
    file = sources_file(
        tmp_path / "conf" / "s.toml",
        'path = "../docs"\nkb = "hb"',
        'url = "https://x.test/a"\nrefresh = "30m"',
        'url = "https://x.test/b"\nrefresh = 7200',
    )
    specs = load_sources_file(file, "default")
    assert specs[0].origin == str(tmp_path / "docs") and specs[0].kb == "hb"
    assert [spec.refresh_s for spec in specs[1:]] == [1800, 7200]
    assert specs[1].kb == "default"
