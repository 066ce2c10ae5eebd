"""Serving a stand-in's aiohttp app on 127.0.0.1, the same way for every stand-in."""

from __future__ import annotations

from aiohttp import web


async def serve(app: web.Application, shutdown_grace_s: float) -> tuple[web.AppRunner, int]:
    """Serve `app` at an ephemeral port; returns the runner (to clean up) and the port.

    A client that disconnects cancels its handler (a hang the client gave up on), and
    shutdown waits at most `shutdown_grace_s` for handlers still running.
    """
    runner = web.AppRunner(
        app, access_log=None, handler_cancellation=True, shutdown_timeout=shutdown_grace_s
    )
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]
