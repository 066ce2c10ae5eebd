"""/healthz, /readyz and /metrics for orchestrators and Prometheus: routes any aiohttp app can
carry (the Slack HTTP port does), and a small server of their own for every other mode."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bots.ops.metrics import Metrics
from core import Readiness

ReadinessCheck = Callable[[], Awaitable[Readiness]]


def add_health_routes(app: web.Application, readiness: ReadinessCheck, metrics: Metrics) -> None:
    """/healthz: the process serves requests. /readyz: it can answer questions now (503 with
    the failing check otherwise). /metrics: Prometheus text format."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        state = await readiness()
        body = {"status": "ready" if state.ready else "not ready", "checks": state.checks}
        return web.json_response(body, status=200 if state.ready else 503)

    async def metrics_text(request: web.Request) -> web.Response:
        response = web.Response(body=metrics.exposition())
        response.headers["Content-Type"] = metrics.content_type
        return response

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_text)


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
