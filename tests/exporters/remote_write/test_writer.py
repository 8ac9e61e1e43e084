"""The remote writer against a scripted receiver: batching, auth, retries, drops, outages."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.registry import CollectorRegistry
from pydantic import SecretStr

from posfleet.collector.state import FleetState
from posfleet.config import parse_config
from posfleet.config.models import RemoteWriteSettings
from posfleet.exporters.buffer import DiskBuffer
from posfleet.exporters.remote_write.sender import parse_retry_after
from posfleet.exporters.remote_write.writer import RemoteWriter
from tests.collector.fakes import wait_for
from tests.exporters.prometheus.fleet import fleet
from tests.exporters.remote_write.decode import Series, decode_snappy_request
from tests.fixtures.net import free_port

SAMPLE = Path(__file__).resolve().parents[3] / "exporters" / "remote_write" / "sample.yml"
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


class SteppingClock:
    """Wall time moves only when the writer sleeps; sleeps are recorded, not waited."""

    def __init__(self) -> None:
        self.now_at = START
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return (self.now_at - START).total_seconds()

    def now(self) -> datetime:
        return self.now_at

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_at += timedelta(seconds=seconds)
        await asyncio.sleep(0)


@dataclass
class Receiver:
    """Answers with the scripted statuses in turn (then 204) and records what it stored."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    stored: list[list[Series]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.headers.append(dict(request.headers))
        body = await request.read()
        status, headers = self.script.pop(0) if self.script else (204, {})
        if status < 300:
            self.stored.append(decode_snappy_request(body))
            return web.Response(status=status)
        return web.Response(status=status, text=f"scripted {status}", headers=headers)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recorder = Receiver()
    app = web.Application()
    app.router.add_post("/api/v1/write", recorder.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    recorder.url = f"http://{host}:{port}/api/v1/write"
    yield recorder
    await runner.cleanup()


@dataclass
class Setup:
    writer: RemoteWriter
    clock: SteppingClock
    session: aiohttp.ClientSession
    state: FleetState


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def make_writer(
    url: str, tmp_path: Path, session: aiohttp.ClientSession, **settings: object
) -> Setup:
    state = fleet(3)
    clock = SteppingClock()
    options = {"url": url, "max_samples_per_request": 100, **settings}
    writer = RemoteWriter(
        RemoteWriteSettings.model_validate(options),
        state.terminals,
        DiskBuffer(tmp_path / "buffer", max_bytes=10_000_000),
        instance="edge-test",
        self_metrics=None,
        clock=clock,
        session=session,
    )
    return Setup(writer, clock, session, state)


def stored_names(receiver: Receiver) -> list[str]:
    return [s.labels["__name__"] for request in receiver.stored for s in request]


async def test_current_samples_arrive_in_batches_with_the_remote_write_headers(
    receiver: Receiver, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    setup = make_writer(receiver.url, tmp_path, session)
    queued = await setup.writer.collect_once()
    await setup.writer.send_pending(session)
    assert queued == 3 * 55
    assert [len(request) for request in receiver.stored] == [100, 65]
    headers = receiver.headers[0]
    assert headers["Content-Encoding"] == "snappy"
    assert headers["Content-Type"] == "application/x-protobuf"
    assert headers["X-Prometheus-Remote-Write-Version"] == "0.1.0"
    assert "Authorization" not in headers
    series = [s for request in receiver.stored for s in request]
    up = [s for s in series if s.labels["__name__"] == "posfleet_terminal_up"]
    assert up[0].labels == {
        "__name__": "posfleet_terminal_up",
        "job": "posfleet-collector",
        "instance": "edge-test",
        "terminal": "T-00000",
        "store": "S-0000",
        "merchant": "acme",
        "region": "north",
    }
    assert up[0].samples == [(1.0, int(START.timestamp() * 1000))]
    assert setup.writer.stats.samples_sent == 165
    assert setup.writer.buffer.stats().pending_records == 0


async def test_self_metrics_go_along(
    receiver: Receiver, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    registry = CollectorRegistry()
    state = fleet(1)
    writer = RemoteWriter(
        RemoteWriteSettings(url=receiver.url),
        state.terminals,
        DiskBuffer(tmp_path, max_bytes=10_000_000),
        instance="edge-test",
        self_metrics=registry,
        clock=SteppingClock(),
        session=session,
    )
    registry.register(writer.metrics)
    await writer.collect_once()
    await writer.send_pending(session)
    assert "posfleet_remote_write_buffered_requests" in stored_names(receiver)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"bearer_token": SecretStr("s3cret")}, "Bearer s3cret"),
        (
            {"username": "edge", "password": SecretStr("pw")},
            "Basic " + base64.b64encode(b"edge:pw").decode(),
        ),
    ],
)
async def test_credentials_are_sent(
    receiver: Receiver,
    tmp_path: Path,
    session: aiohttp.ClientSession,
    settings: dict[str, object],
    expected: str,
) -> None:
    setup = make_writer(receiver.url, tmp_path, session, **settings)
    await setup.writer.collect_once()
    await setup.writer.send_pending(session)
    assert {h["Authorization"] for h in receiver.headers} == {expected}


async def test_5xx_and_429_are_retried_with_backoff_honouring_retry_after(
    receiver: Receiver, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    receiver.script = [(503, {}), (503, {}), (429, {"Retry-After": "7"})]
    setup = make_writer(receiver.url, tmp_path, session, min_backoff_seconds=1)
    await setup.writer.collect_once()
    await setup.writer.send_pending(session)
    assert len(receiver.stored) == 2, "nothing lost"
    first, second, third = setup.clock.sleeps
    assert 0.8 <= first <= 1.0
    assert 1.6 <= second <= 2.0, "the wait doubles"
    assert third == 7.0, "Retry-After wins"
    stats = setup.writer.stats
    assert dict(stats.samples_failed) == {"http_5xx": 200, "http_429": 100}
    assert stats.samples_retried == 300
    assert stats.samples_sent == 165


async def test_a_4xx_drops_the_request_counts_it_and_goes_on(
    receiver: Receiver,
    tmp_path: Path,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.script = [(400, {})]
    setup = make_writer(receiver.url, tmp_path, session)
    await setup.writer.collect_once()
    await setup.writer.send_pending(session)
    assert [len(request) for request in receiver.stored] == [65]
    assert setup.writer.stats.samples_dropped == {"rejected": 100}
    assert "scripted 400" in caplog.text
    assert setup.clock.sleeps == []


async def test_an_outage_loses_nothing_and_replays_in_order(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/write"
    setup = make_writer(url, tmp_path, session, max_samples_per_request=1000)
    await setup.writer.collect_once()
    sender = asyncio.create_task(setup.writer.send_pending(session))
    for _ in range(2):
        setup.clock.now_at += timedelta(seconds=15)
        await setup.writer.collect_once()
    await wait_for(lambda: setup.writer.stats.samples_failed["connection"] >= 165 * 2)
    assert setup.writer.buffer.stats().pending_records == 3

    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/api/v1/write", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with asyncio.timeout(30):
            await sender
    finally:
        await runner.cleanup()
    stamps = [request[0].samples[0][1] for request in receiver.stored]
    assert len(stamps) == 3
    assert stamps == sorted(set(stamps)), "in order, each collection once"
    assert setup.writer.stats.samples_sent == 3 * 165


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 25 Nov 2026 10:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_the_sample_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSFLEET_REMOTE_WRITE__PASSWORD", "from-the-environment")
    config = parse_config(SAMPLE.read_text(encoding="utf-8"))
    assert config.remote_write is not None
    assert config.remote_write.password is not None
    assert config.remote_write.password.get_secret_value() == "from-the-environment"
