"""What every long-running command shares: stopping on SIGINT/SIGTERM, the health server on
its own port, the shared state, and telling the caller which ports it bound."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from bots.ops.health import HealthServer, ReadinessCheck
from bots.ops.metrics import Metrics
from bots.state.shared import SharedState
from core import Helpbot, Settings

__all__ = ["HealthOptions", "Listening", "health_server", "shared_state", "stop_on_signals"]


@dataclass(frozen=True)
class HealthOptions:
    """`--health-port` and `--health-host`; None means HEALTH_PORT and HEALTH_HOST (loopback
    by default), port 0 a free port."""

    port: int | None = None
    host: str | None = None

    def resolved(self, settings: Settings) -> HealthOptions:
        """The options with the settings filling in what was not given."""
        return HealthOptions(
            self.port if self.port is not None else settings.health_port,
            self.host or settings.health_host,
        )


@dataclass
class Listening:
    """The ports a running command bound, by name (`health`, `slack`); `ready` is set once
    they are all bound, so a caller can ask for port 0 and learn the real one."""

    ports: dict[str, int] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


def settle_heap() -> None:
    """Once a long-running command has started: what is alive now (modules, clients, about
    240,000 objects) lives as long as the process, so the garbage collector stops walking it.
    A full collection under load then takes about 12 ms instead of 120 ms, a pause that held
    every Slack ack and answer behind it (docs/performance.md)."""
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def stop_on_signals(second_exits: bool = False) -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while the block runs, so long-running modes shut
    down cleanly; the handlers are removed afterwards. With `second_exits`, a second signal
    during the shutdown ends the process at once (exit code 130)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)

    def on_signal() -> None:
        if stop.is_set() and second_exits:
            print("stopping now", file=sys.stderr, flush=True)
            os._exit(130)
        stop.set()

    for signum in signals:
        loop.add_signal_handler(signum, on_signal)
    try:
        yield stop
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def shared_state(settings: Settings) -> SharedState:
    """De-duplication and rate limits in Redis with REDIS_URL, else in this process."""
    return SharedState(settings.redis_url.get_secret_value() if settings.redis_url else None)


@contextlib.asynccontextmanager
async def health_server(
    settings: Settings,
    options: HealthOptions,
    bot: Helpbot,
    metrics: Metrics,
    listening: Listening,
    served_on: int | None = None,
    readiness: ReadinessCheck | None = None,
) -> AsyncIterator[None]:
    """/healthz, /readyz and /metrics on the health port (or HEALTH_PORT) while the block
    runs; nothing when none is set or it is `served_on`, a port that has them already (the
    Slack HTTP port). `readiness` replaces the core's own check (serve adds its adapters')."""
    options = options.resolved(settings)
    port, host = options.port, options.host or settings.health_host
    if port is None or port == served_on:
        yield
        return
    server = HealthServer(readiness or bot.service.readiness, metrics)
    bound = await server.start(host, port)
    listening.ports["health"] = bound
    print(f"health and metrics on http://{_url_host(host)}:{bound}/metrics", flush=True)
    try:
        yield
    finally:
        await server.stop()


def _url_host(host: str) -> str:
    """An IPv6 address goes in brackets in a URL."""
    return f"[{host}]" if ":" in host else host
