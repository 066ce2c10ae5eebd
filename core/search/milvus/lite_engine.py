"""One Milvus Lite file, shared by every helpbot process while `helpbot serve` runs.

Milvus Lite lets one process open a file. `serve` runs the engine instead as a child
`milvus-lite server` on a loopback port and writes where it listens beside the data
(`helpbot.db.engine.json`, readable by its owner only); every other helpbot command finds that
record and connects to the engine rather than to the file. The child dies with `serve`, even
after kill -9 (the kernel's parent-death signal). `serve` holds a lock on its record while it
runs, so a record no process holds is stale, whatever process now has the ids written in it,
and the next `serve` replaces it. Writers (ingest, sync, forget) take a lock file beside the
data, so two never interleave: the second waits for the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO

from core.errors import RetrievalError
from core.private_files import create_private_file, make_private_folder

__all__ = ["SharedLiteEngine"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_START_TIMEOUT_S = 120.0
_WRITE_WAIT_S = 600.0
_LOG_TAIL_BYTES = 4096
_HOLD_WAIT_S = 1.0


def engine_record(path: str) -> Path:
    """Where `serve` records the engine it runs for the Lite file at `path`."""
    return Path(f"{path}.engine.json")


def engine_log(path: str) -> Path:
    """Where the engine's own output goes (each start overwrites it), to say why it stopped."""
    return Path(f"{path}.engine.log")


def shared_engine_uri(path: str) -> str | None:
    """The URI of the engine `serve` runs for the Lite file at `path`, if one answers."""
    record = _read_record(engine_record(path))
    if record is None or not _held(engine_record(path)):
        return None
    if _listening(record["port"]):
        return f"http://127.0.0.1:{record['port']}"
    return None


class SharedLiteEngine:
    """`milvus-lite server` for one Lite file, for the lifetime of `serve`."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._record = engine_record(path)
        self._log = engine_log(path)
        self._process: subprocess.Popen[bytes] | None = None
        self._holding: BinaryIO | None = None  # the record, locked while serve runs

    async def start(self) -> str:
        """Start the engine (stopping one left behind) and record it; its URI."""
        make_private_folder(Path(self._path).parent)
        await self._hold_record()
        try:
            self._stop_left_behind()
            assert self._holding is not None
            self._holding.truncate(0)  # its old port may be another engine's now
            port = _free_port()
            create_private_file(self._log)
            # Popen on the loop's thread: the parent-death signal follows the thread that
            # forked.
            with open(self._log, "wb") as output:
                self._process = self._spawn(port, output)
            await self._until_listening(port)
        except BaseException:
            self._let_go()
            raise
        assert self._holding is not None
        record = {"port": port, "pid": self._process.pid, "owner": os.getpid()}
        self._holding.write(json.dumps(record).encode())  # at 0: emptied above
        self._holding.flush()
        log.info("Milvus Lite engine for %s on 127.0.0.1:%d", self._path, port)
        return f"http://127.0.0.1:{port}"

    async def _hold_record(self) -> None:
        """Lock the record for as long as this serve runs. The kernel drops the lock when
        its process ends, however it ends, so a record is live exactly while it is locked:
        a process id in it may since belong to another process, a lock cannot. A command
        checking the record holds it for an instant (`_held`), so a busy lock is tried for
        a second before it means another serve."""
        create_private_file(self._record)
        handle = open(self._record, "r+b")  # noqa: SIM115 (held until stop)
        if not await _lock_within(handle, _HOLD_WAIT_S, 0.05):
            handle.close()
            owner = (_read_record(self._record) or {}).get("owner")
            by = f" (pid {owner})" if owner else ""
            raise RetrievalError(f"{self._path} is already served by helpbot serve{by}")
        self._holding = handle

    def _let_go(self) -> None:
        """Release the record's lock (the record is live no more)."""
        if self._holding is not None:
            self._holding.close()
            self._holding = None

    def _spawn(self, port: int, output: BinaryIO) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                str(Path(sys.executable).with_name("milvus-lite")),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                self._path,
            ],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            # pymilvus, imported by the server, refuses a MILVUS_URI that is a file path.
            env={key: value for key, value in os.environ.items() if key != "MILVUS_URI"},
            preexec_fn=_die_with_parent,
        )

    async def stop(self) -> None:
        """Stop the engine cleanly (milvus-lite flushes on SIGINT) and remove the record."""
        if self._holding is not None:
            self._record.unlink(missing_ok=True)
        self._let_go()
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait, 5)

    async def _until_listening(self, port: int) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RetrievalError(f"cannot share {self._path}: {self._why_stopped()}")
            if await asyncio.to_thread(_listening, port):
                return
            await asyncio.sleep(0.2)
        await self.stop()
        raise RetrievalError(f"milvus-lite server for {self._path} did not start")

    def _why_stopped(self) -> str:
        """The engine's last words, in a sentence: the file held by another process (a
        helpbot command that opened it before `serve` started), or its last line."""
        try:
            with open(self._log, "rb") as output:
                output.seek(max(0, output.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
                lines = output.read().decode("utf-8", errors="replace").strip().splitlines()
        except OSError:
            lines = []
        last = lines[-1].strip() if lines else ""
        assert self._process is not None
        if "DataDirLockedError" in last:
            return (
                "another process has it open (a helpbot command started before serve?); "
                "stop it and start serve again"
            )
        said = f": {last}" if last else ""
        return f"milvus-lite server exited with {self._process.returncode}{said} (log: {self._log})"

    def _stop_left_behind(self) -> None:
        """The engine of a serve that died, if it still runs (its parent-death signal should
        have stopped it), and only if that process is still a milvus-lite server of this
        file: its id may have been given to another process since."""
        record = _read_record(self._record)
        if record is None or not _serves(record["pid"], self._path):
            return
        log.warning("stopping a Milvus Lite engine left behind (pid %d)", record["pid"])
        with contextlib.suppress(ProcessLookupError):
            os.kill(record["pid"], signal.SIGKILL)
        _wait_gone(record["pid"])


@contextlib.asynccontextmanager
async def writing(path: str) -> AsyncIterator[None]:
    """Hold the Lite file's write lock: another writer (an ingest, a sync) waits its turn."""
    lock = Path(f"{path}.write.lock")
    make_private_folder(lock.parent)
    create_private_file(lock)
    with open(lock, "a+b") as handle:
        waiting = functools.partial(
            log.warning, "another helpbot process is writing to %s: waiting", path
        )
        if not await _lock_within(handle, _WRITE_WAIT_S, 0.2, waiting):
            raise RetrievalError(
                f"another helpbot process has been writing to {path} for "
                f"{_WRITE_WAIT_S:g} s; try again when it has finished"
            )
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def _lock_within(
    handle: BinaryIO, wait_s: float, poll_s: float, waiting: Callable[[], None] = lambda: None
) -> bool:
    """Take an exclusive lock on `handle`, trying every `poll_s` for up to `wait_s` seconds
    (without blocking the loop); whether it was taken. `waiting` is called once, when the
    lock is first found held."""
    deadline = time.monotonic() + wait_s
    announced = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            if not announced:
                waiting()
                announced = True
            await asyncio.sleep(poll_s)


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _read_record(record: Path) -> dict[str, int] | None:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        return {key: int(data[key]) for key in ("port", "pid", "owner")}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _held(record: Path) -> bool:
    """Whether a serve holds the record (see `SharedLiteEngine._hold_record`)."""
    try:
        with open(record, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def _serves(pid: int, path: str) -> bool:
    """Whether process `pid` is a milvus-lite server of the Lite file at `path`."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    runs_engine = any(Path(arg).name == "milvus-lite" for arg in argv)
    return runs_engine and "server" in argv and path in argv and _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def _wait_gone(pid: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
