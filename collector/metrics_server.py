"""The collector's ``/metrics`` endpoint (Prometheus text format) on ``collector.listen``.

The body is the self-metrics registry rendered by prometheus_client, followed by the
terminal metrics from a faster renderer (``terminal_metrics``): prometheus_client needs
seconds for the ~500,000 samples of 10,000 terminals, the cached renderer well under one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import CollectorRegistry


class ListenAddressError(ValueError):
    """``collector.listen`` or ``--listen`` is not ``host:port``."""


def parse_listen(address: str) -> tuple[str, int]:
    """``127.0.0.1:9464``, ``[::1]:9464`` or ``:9464`` (all interfaces) -> (host, port)."""
    host, separator, port_text = address.rpartition(":")
    if not separator or not port_text.isdigit() or int(port_text) > 65535:
        raise ListenAddressError(f"listen address '{address}' is not host:port")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port_text)


class MetricsServer:
    """Serves ``generate_latest(registry)`` plus ``terminal_metrics()`` at /metrics."""

    def __init__(
        self,
        registry: CollectorRegistry,
        address: str,
        terminal_metrics: Callable[[], Awaitable[bytes]] | None = None,
    ) -> None:
        self._registry = registry
        self._terminal_metrics = terminal_metrics
        self._host, self._port = parse_listen(address)
        self._runner: web.AppRunner | None = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        if self._terminal_metrics is not None:
            body += await self._terminal_metrics()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    async def start(self) -> str:
        """Start listening; returns the bound address (useful with port 0). Raises OSError."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        return f"{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
