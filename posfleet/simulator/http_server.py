"""The HTTP status endpoint of every simulated Android terminal, on one port.

``GET /terminals/<id>/status`` answers the terminal's status snapshot as JSON, with the
fleet's bearer token required. Fault knobs make chosen terminals misbehave the way real
ones do, to exercise the collector: answer slowly, cut the JSON short, send wrong types,
or send a body larger than any collector accepts.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from aiohttp import web

from posfleet.simulator.engine import Fleet

HttpFault = Literal["slow", "truncated", "wrong_types", "oversized"]
HTTP_FAULTS: tuple[HttpFault, ...] = ("slow", "truncated", "wrong_types", "oversized")
OVERSIZED_BYTES = 2 * 1_048_576


def _wrong_types(body: str) -> str:
    data = json.loads(body)
    printer = data.get("printer")
    if isinstance(printer, dict):
        printer["online"] = "yes"
        printer["paper_cuts_total"] = str(printer.get("paper_cuts_total", 0))
    network = data.get("network")
    if isinstance(network, dict):
        network["acquirer_latency_ms"] = "fast"
    data["observed_at"] = 12345
    return json.dumps(data)


class StatusServer:
    """aiohttp application serving the http terminals of a :class:`Fleet`."""

    def __init__(
        self,
        fleet: Fleet,
        token: str,
        *,
        faults: Mapping[str, HttpFault] | None = None,
        slow_seconds: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not token:
            raise ValueError("the status server needs a bearer token")
        self._fleet = fleet
        self._expected = f"Bearer {token}".encode()
        self.faults: dict[str, HttpFault] = dict(faults or {})
        self._slow_seconds = slow_seconds
        self._sleep = sleep
        self.requests_total = 0
        self.refused_total = 0
        self.app = web.Application()
        self.app.router.add_get("/terminals/{terminal_id}/status", self._status)

    def _authorised(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "").encode()
        return hmac.compare_digest(given, self._expected)

    async def _status(self, request: web.Request) -> web.StreamResponse:
        self.requests_total += 1
        if not self._authorised(request):
            self.refused_total += 1
            return web.json_response(
                {"error": "missing or wrong bearer token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="posfleet-simulator"'},
            )
        terminal_id = request.match_info["terminal_id"]
        terminal = self._fleet.by_id.get(terminal_id)
        if terminal is None or terminal.spec.driver != "http":
            return web.json_response({"error": f"no http terminal {terminal_id}"}, status=404)
        snapshot = self._fleet.snapshot(terminal_id)
        if snapshot is None:
            return web.json_response({"error": "terminal is not answering"}, status=503)
        body = snapshot.model_dump_json(exclude_none=True)
        fault = self.faults.get(terminal_id)
        if fault == "slow":
            await self._sleep(self._slow_seconds)
        elif fault == "truncated":
            body = body[: len(body) // 2]
        elif fault == "wrong_types":
            body = _wrong_types(body)
        elif fault == "oversized":
            body = body[:-1] + ',"padding":"' + "x" * OVERSIZED_BYTES + '"}'
        return web.Response(text=body, content_type="application/json")


class RunningServer:
    """A :class:`StatusServer` listening on host:port (port 0 picks a free one)."""

    def __init__(self, server: StatusServer, host: str, port: int) -> None:
        self._server = server
        self._host = host
        self._port = port
        self._runner = web.AppRunner(server.app, access_log=None)
        self.base_url = ""

    async def start(self) -> str:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        addresses = self._runner.addresses
        port = int(addresses[0][1]) if addresses else self._port
        self.base_url = f"http://{self._host}:{port}"
        return self.base_url

    async def close(self) -> None:
        await self._runner.cleanup()
