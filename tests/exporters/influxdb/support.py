"""Helpers for the InfluxDB output tests: snapshots, InfluxQL queries, a fake server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from posfleet.config.models import InfluxDbSettings
from posfleet.exporters.influxdb import InfluxDbSink
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from tests.fixtures.net import http_json, http_request
from tests.fixtures.servers import Server

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def snapshot(index: int = 0, *, terminal: str | None = None, **parts: Any) -> StatusSnapshot:
    """A snapshot of terminal T-<index % 100>, one second after the previous index."""
    body: dict[str, Any] = {
        "terminal_id": terminal or f"T-{index % 100:04d}",
        "merchant_id": "acme",
        "store_id": f"S-{index % 10:03d}",
        "region": "north",
        "observed_at": (START + timedelta(seconds=index)).isoformat(),
        "printer": {"online": True, "paper": "ok", "paper_cuts_total": index},
        "system": {"battery_percent": 50.0, "uptime_seconds": float(index)},
    }
    body.update(parts)
    return StatusSnapshot.model_validate(body)


def transaction(index: int = 0, **fields: Any) -> TransactionEvent:
    body: dict[str, Any] = {
        "transaction_id": f"T-0001-{index:06d}",
        "terminal_id": "T-0001",
        "merchant_id": "acme",
        "store_id": "S-001",
        "occurred_at": (START + timedelta(seconds=index)).isoformat(),
        "amount_minor": 1250,
        "currency": "EUR",
        "outcome": "approved",
        "host_response_code": "00",
        "stan": f"{index:06d}",
    }
    body.update(fields)
    return TransactionEvent.model_validate(body)


def create_database(server: Server, name: str) -> None:
    http_json("POST", f"{server.url}/query?{urlencode({'q': f'CREATE DATABASE {name}'})}")


def influxql(server: Server, database: str, query: str) -> list[dict[str, Any]]:
    """The series of an InfluxQL query's first statement (timestamps in ns)."""
    params = urlencode({"db": database, "q": query, "epoch": "ns"})
    status, raw = http_request("GET", f"{server.url}/query?{params}", timeout=30)
    assert status == 200, raw
    result = json.loads(raw)["results"][0]
    assert "error" not in result, result["error"]
    series: list[dict[str, Any]] = result.get("series", [])
    return series


def rows(server: Server, database: str, query: str) -> list[dict[str, Any]]:
    """The rows of a query's series as dicts (tags of GROUP BY * merged in)."""
    found = []
    for series in influxql(server, database, query):
        for values in series["values"]:
            row = dict(zip(series["columns"], values, strict=True))
            row.update(series.get("tags", {}))
            found.append(row)
    return found


def count(server: Server, database: str, measurement: str, field: str = "reported") -> int:
    series = influxql(server, database, f'SELECT count("{field}") FROM "{measurement}"')
    return int(series[0]["values"][0][1]) if series else 0


def v1_settings(server: Server | str, database: str, **overrides: Any) -> InfluxDbSettings:
    url = server if isinstance(server, str) else server.url
    values: dict[str, Any] = {
        "url": url,
        "database": database,
        "flush_interval_seconds": 0.05,
        "retry_max_seconds": 0.2,
        "auth_retry_seconds": 0.2,
        "timeout_seconds": 5,
    }
    values.update(overrides)
    return InfluxDbSettings(**values)


def make_sink(settings: InfluxDbSettings, directory: Path, **options: Any) -> InfluxDbSink:
    return InfluxDbSink(settings, directory, buffer_max_bytes=256 * 1024 * 1024, **options)


async def wait_for(
    condition: Callable[[], bool], *, seconds: float = 30.0, what: str = "condition"
) -> None:
    """Poll ``condition`` on the event loop (tasks keep running) until true or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_for_query(
    probe: Callable[[], bool], *, seconds: float = 30.0, what: str = "query result"
) -> None:
    """Like :func:`wait_for` for probes that block (HTTP queries): run them in a thread."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await asyncio.to_thread(probe):
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(0.1)


Handler = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]


class FakeInfluxDB:
    """A tiny aiohttp server standing in for InfluxDB where the real one cannot misbehave
    on demand; ``handler`` decides each answer and ``bodies`` keeps what was accepted."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[bytes] = []
        self.accepted: list[bytes] = []
        self.url = ""

    async def _write(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(body)
        response = await self.handler(request, body)
        if 200 <= response.status < 300:
            self.accepted.append(body)
        return response

    def accepted_lines(self) -> Iterator[bytes]:
        for body in self.accepted:
            yield from body.split(b"\n")

    @asynccontextmanager
    async def running(self) -> Any:
        app = web.Application(client_max_size=1024**3)
        app.router.add_post("/write", self._write)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self
        finally:
            await runner.cleanup()


def no_content() -> web.Response:
    return web.Response(status=204)
