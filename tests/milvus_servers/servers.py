"""Real Milvus servers for tests, each in a process of its own on a free local port:
`milvus-lite server` (same engine as the embedded file, over gRPC) and the real Milvus 2.3.5
standalone (its own venv, made by `scripts/bootstrap-milvus-2.3.5`)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from core.search.milvus.pymilvus_import import MilvusClient
from tests.support import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MILVUS_2_3_5_PYTHON = Path(
    os.environ.get("HELPBOT_MILVUS_2_3_5_PYTHON", PROJECT_ROOT / ".venv-milvus-2.3.5/bin/python")
)
_LAUNCHER = Path(__file__).with_name("launch_2_3_5.py")


class MilvusServer:
    """One server process: start() waits until it answers, stop() ends it (SIGINT for
    milvus-lite, which only shuts down cleanly on it; SIGTERM then SIGKILL for Milvus)."""

    def __init__(self, kind: str, data_dir: Path) -> None:
        self.kind = kind
        self.data_dir = data_dir
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def _command(self) -> list[str]:
        if self.kind == "milvus-2.3.5":
            launcher = [str(MILVUS_2_3_5_PYTHON), str(_LAUNCHER)]
            return [*launcher, "--data", str(self.data_dir), "--port", str(self.port)]
        lite = str(Path(sys.executable).with_name("milvus-lite"))
        data = str(self.data_dir / "lite")
        return [lite, "server", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", data]

    def start(self, timeout_s: float = 180.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "server.log", "ab") as log:
            self._process = subprocess.Popen(
                self._command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        pymilvus_log = logging.getLogger("pymilvus")
        level = pymilvus_log.level
        pymilvus_log.setLevel(logging.CRITICAL)  # one traceback per failed attempt otherwise
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"{self.kind} exited with {self._process.returncode}; "
                        f"see {self.data_dir / 'server.log'}"
                    )
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        pass
                    client = MilvusClient(uri=self.uri, timeout=5)
                    client.list_collections()
                    client.close()
                    return
                except Exception:
                    time.sleep(0.2)
        finally:
            pymilvus_log.setLevel(level)
        self.stop()
        raise TimeoutError(f"{self.kind} did not answer within {timeout_s} s")

    def stop(self, timeout_s: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT if self.kind == "milvus-lite" else signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
