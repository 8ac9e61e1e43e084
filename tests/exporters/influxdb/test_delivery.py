"""How a batch gets through a misbehaving server: retries, splits, and bad points dropped.

These run against :class:`FakeInfluxDB`, a tiny aiohttp server: the answers tested here
(Retry-After, 429, a whole batch refused without naming the bad line as VictoriaMetrics
and InfluxDB 2.x do, 401 until the credentials are fixed) cannot be provoked on demand from
the real InfluxDB 1.6. The 413 split and the partial write run against the real server in
test_influxdb_v1.py.
"""

from __future__ import annotations

import json

from aiohttp import web

from posfleet.exporters.influxdb.delivery import Delivery
from posfleet.exporters.influxdb.metrics import AUTH, BAD_POINT, THROTTLED, TOO_LARGE, InfluxDbStats
from posfleet.exporters.influxdb.transport import V1Transport, parse_retry_after
from tests.exporters.influxdb.support import FakeInfluxDB, no_content, v1_settings

LINES = [f"m,terminal=T-{i} v={i}i {i}".encode() for i in range(10)]
BODY = b"\n".join(LINES)


class RecordingSleep:
    """Stands in for asyncio.sleep: remembers each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def deliver(fake: FakeInfluxDB, body: bytes = BODY) -> tuple[InfluxDbStats, list[float]]:
    stats = InfluxDbStats()
    sleep = RecordingSleep()
    async with fake.running():
        transport = V1Transport(v1_settings(fake.url, "db"))
        try:
            await Delivery(transport, stats, sleep=sleep, auth_retry_seconds=45).deliver(body)
        finally:
            await transport.close()
    return stats, sleep.waits


async def test_retry_after_is_honoured() -> None:
    answers = iter(
        [
            web.Response(status=503, headers={"Retry-After": "7"}),
            web.Response(status=429, headers={"Retry-After": "3"}),
        ]
    )

    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        return next(answers, no_content())

    fake = FakeInfluxDB(handler)
    stats, waits = await deliver(fake)
    assert waits[0] >= 7
    assert waits[1] >= 3
    assert list(fake.accepted_lines()) == LINES
    assert stats.points_sent == 10
    assert stats.retries[THROTTLED] == 1


async def test_backoff_grows_while_the_server_fails() -> None:
    failures = 6

    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        if len(fake.requests) <= failures:
            return web.Response(status=500, text="overloaded")
        return no_content()

    fake = FakeInfluxDB(handler)
    _, waits = await deliver(fake)
    assert len(waits) == failures
    assert waits[-1] > waits[0]
    assert all(wait <= 30 for wait in waits)


async def test_a_bad_line_the_server_does_not_name_is_isolated_by_bisection() -> None:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        if b"T-7 " in body:
            return web.json_response({"error": "bad request"}, status=400)
        return no_content()

    fake = FakeInfluxDB(handler)
    stats, _ = await deliver(fake)
    assert sorted(fake.accepted_lines()) == sorted(line for line in LINES if b"T-7 " not in line)
    assert stats.points_dropped[BAD_POINT] == 1
    assert stats.points_sent == 9


async def test_lines_the_server_names_are_dropped_and_the_rest_sent_again() -> None:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        bad = [line for line in body.split(b"\n") if b"T-3 " in line or b"T-5 " in line]
        if bad:
            message = "\n".join(f"unable to parse '{line.decode()}': invalid" for line in bad)
            return web.json_response({"error": message}, status=400)
        return no_content()

    fake = FakeInfluxDB(handler)
    stats, _ = await deliver(fake)
    assert len(fake.requests) == 2
    assert list(fake.accepted_lines()) == [line for i, line in enumerate(LINES) if i not in (3, 5)]
    assert stats.points_dropped[BAD_POINT] == 2


async def test_partial_write_counts_the_refused_points_and_moves_on() -> None:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        error = 'partial write: field type conflict: input field "v" ... dropped=2'
        return web.Response(status=400, text=json.dumps({"error": error}))

    fake = FakeInfluxDB(handler)
    stats, waits = await deliver(fake)
    assert len(fake.requests) == 1
    assert waits == []
    assert stats.points_dropped[BAD_POINT] == 2
    assert stats.points_sent == 8


async def test_too_large_batches_are_split_and_a_lone_giant_dropped() -> None:
    giant = b"m,terminal=giant v=" + b"9" * 500 + b"i 1"

    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        return web.Response(status=413) if len(body) > 200 else no_content()

    fake = FakeInfluxDB(handler)
    stats, _ = await deliver(fake, BODY + b"\n" + giant)
    assert sorted(fake.accepted_lines()) == sorted(LINES)
    assert stats.points_dropped[TOO_LARGE] == 1
    assert stats.points_sent == 10


async def test_refused_credentials_keep_the_data_until_they_are_fixed() -> None:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        if len(fake.requests) <= 3:
            return web.json_response({"error": "authorization failed"}, status=401)
        return no_content()

    fake = FakeInfluxDB(handler)
    stats, waits = await deliver(fake)
    assert waits == [45, 45, 45]  # auth_retry_seconds, not a fast backoff
    assert stats.retries[AUTH] == 3
    assert list(fake.accepted_lines()) == LINES


def test_retry_after_as_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("soon") is None
