"""A private git host: git's own smart HTTP server (`git http-backend`, run as CGI for each
request, as Apache or nginx would) behind a check of `Authorization: Bearer <token>`, the way
a private GitHub or GitLab repository takes a token. Answers 401 without the right one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from tests.standins.local_server import serve

_SHUTDOWN_GRACE_S = 5.0


def _backend() -> str:
    """git's CGI program, where this git keeps its helpers."""
    helpers = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True)
    return str(Path(helpers.stdout.strip()) / "git-http-backend")


class GitHost:
    """Serves every repository under `root` at /<name>/...; `refused` counts 401s."""

    def __init__(self, root: Path, token: str) -> None:
        self.root = root
        self.token = token
        self.refused = 0
        self.port = 0
        self._backend = _backend()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            self.refused += 1
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
        body = await request.read()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": request.method,
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query_string,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "reader",
        }
        process = await asyncio.create_subprocess_exec(
            self._backend,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        output, _ = await process.communicate(body)
        head, _, payload = output.partition(b"\r\n\r\n")
        response = web.Response(body=payload)
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                response.set_status(int(value.split()[0]))
            elif name:
                response.headers[name] = value.strip()
        return response


@contextlib.asynccontextmanager
async def git_host(root: Path, token: str) -> AsyncIterator[GitHost]:
    """A `GitHost` on a free loopback port."""
    host = GitHost(root, token)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", host.handle)
    runner, host.port = await serve(app, _SHUTDOWN_GRACE_S)
    try:
        yield host
    finally:
        await runner.cleanup()
