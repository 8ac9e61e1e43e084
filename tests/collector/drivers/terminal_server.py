"""A fake fleet of HTTP terminals on a loopback port, for the http driver and app tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

TOKEN = "s3cret-token"


class FakeTerminals:
    """Serves ``/terminals/<id>/status``: ``bodies[id]`` with a bearer token check, or a
    misbehaviour from ``behaviour[id]``: ``slow``, ``endless`` (chunked, never ends),
    ``cut`` (Content-Length promises more than is sent), ``http_<status>``."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.behaviour: dict[str, str] = {}
        self.requests: dict[str, int] = {}
        self.url = ""

    def status_url(self, terminal_id: str) -> str:
        return f"{self.url}/terminals/{terminal_id}/status"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        terminal_id = request.match_info["terminal"]
        self.requests[terminal_id] = self.requests.get(terminal_id, 0) + 1
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.Response(status=401, text="missing or wrong token")
        behaviour = self.behaviour.get(terminal_id, "")
        if behaviour == "slow":
            await asyncio.sleep(3600)
        if behaviour.startswith("http_"):
            return web.Response(status=int(behaviour.removeprefix("http_")))
        if behaviour == "endless":
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            while True:
                await response.write(b'{"padding": "' + b"x" * 65_536)
        if behaviour == "cut":
            response = web.StreamResponse(headers={"Content-Length": "10000"})
            await response.prepare(request)
            await response.write(b'{"terminal_id": "T-0451", ')
            assert request.transport is not None
            request.transport.close()
            return response
        body = self.bodies.get(terminal_id)
        if body is None:
            return web.Response(status=404)
        return web.Response(body=body, content_type="application/json")


@asynccontextmanager
async def running_terminals(host: str = "127.0.0.1") -> AsyncIterator[FakeTerminals]:
    terminals = FakeTerminals()
    app = web.Application()
    app.router.add_get("/terminals/{terminal}/status", terminals.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    bound_host, port = runner.addresses[0][:2]
    terminals.url = f"http://{bound_host}:{port}"
    try:
        yield terminals
    finally:
        await runner.cleanup()
