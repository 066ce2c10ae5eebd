"""/healthz, /readyz and /metrics for orchestrators and Prometheus: routes any aiohttp app can
carry (the Slack HTTP port does), and a small server of their own for every other mode."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import get_args

from aiohttp import web

from bots.ops.metrics import Metrics
from core import Mode, Readiness

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[Readiness]]

# What a check may say in public: it passed, the answer mode, a source's sync state, or a
# chat platform still connecting (serve). Anything else is an error's text (a server address,
# a collection name, a file path), which goes to the log instead.
_PUBLIC_VALUES = {"ok", "pending", "failing", "connecting", *get_args(Mode)}
NOT_READY = "not ready"


def add_health_routes(
    app: web.Application, readiness: ReadinessCheck, metrics: Metrics | None
) -> None:
    """/healthz: the process serves requests. /readyz: it can answer questions now (503
    naming the failing check otherwise, its reason logged). /metrics: Prometheus text format,
    left out when `metrics` is None."""
    logged: dict[str, str] = {}

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        state = await readiness()
        checks = {name: _public(name, value, logged) for name, value in state.checks.items()}
        body = {"status": "ready" if state.ready else NOT_READY, "checks": checks}
        return web.json_response(body, status=200 if state.ready else 503)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if metrics is not None:
        app.router.add_get("/metrics", _metrics_text(metrics))


def _metrics_text(metrics: Metrics) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def metrics_text(request: web.Request) -> web.Response:
        response = web.Response(body=metrics.exposition())
        response.headers["Content-Type"] = metrics.content_type
        return response

    return metrics_text


def _public(name: str, value: str, logged: dict[str, str]) -> str:
    """A check's value as /readyz shows it; a failure's text is logged, once while it stays
    the same (probes come every few seconds)."""
    if value in _PUBLIC_VALUES:
        logged.pop(name, None)
        return value
    if logged.get(name) != value:
        logged[name] = value
        log.warning("readiness check %s failed: %s", name, value)
    return NOT_READY


class HealthServer:
    """The three routes on a port of their own (`--health-port`), for Socket Mode, Discord
    and ingestion, which have no HTTP server otherwise."""

    def __init__(self, readiness: ReadinessCheck, metrics: Metrics) -> None:
        app = web.Application()
        add_health_routes(app, readiness, metrics)
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0 picks a free port); returns the bound port."""
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        return int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self._runner.cleanup()
