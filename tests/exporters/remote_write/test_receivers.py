"""Remote-write into a real Prometheus and a real VictoriaMetrics, and query the samples back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from posfleet.config.models import RemoteWriteSettings
from posfleet.exporters.buffer import DiskBuffer
from posfleet.exporters.remote_write.writer import RemoteWriter
from tests.exporters.prometheus.fleet import fleet
from tests.fixtures.net import http_json, wait_until
from tests.fixtures.servers import PrometheusFactory, VictoriaMetricsServer

pytestmark = pytest.mark.server


class SetClock:
    """Wall time set by the test; sleeps are short real sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now_at = now

    def monotonic(self) -> float:
        return self.now_at.timestamp()

    def now(self) -> datetime:
        return self.now_at

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.2))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def writer_for(url: str, tmp_path: Path, clock: SetClock) -> RemoteWriter:
    return RemoteWriter(
        RemoteWriteSettings(url=url, max_samples_per_request=100, max_backoff_seconds=0.2),
        fleet(3).terminals,
        DiskBuffer(tmp_path, max_bytes=10_000_000),
        instance="edge-test",
        clock=clock,
    )


def query(base: str, promql: str, at: datetime) -> list[dict[str, Any]]:
    answer = http_json("GET", f"{base}/api/v1/query?query={quote(promql)}&time={at.timestamp()}")
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


async def test_prometheus_stores_what_was_written_even_across_its_outage(
    prometheus_factory: PrometheusFactory, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    prometheus = await asyncio.to_thread(prometheus_factory)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    clock = SetClock(start)
    writer = writer_for(f"{prometheus.url}/api/v1/write", tmp_path, clock)
    await writer.collect_once()
    await writer.send_pending(session)
    assert writer.stats.samples_sent == 165

    await asyncio.to_thread(prometheus.stop)
    for step in (1, 2):
        clock.now_at = start + timedelta(seconds=15 * step)
        await writer.collect_once()
    sender = asyncio.create_task(writer.send_pending(session))
    await asyncio.sleep(0.5)
    assert writer.stats.samples_failed["connection"] > 0
    assert writer.buffer.stats().pending_records == 4
    await asyncio.to_thread(prometheus.start)
    async with asyncio.timeout(60):
        await sender

    end = start + timedelta(seconds=31)
    counts = await asyncio.to_thread(
        wait_until,
        lambda: (
            query(
                prometheus.url,
                "count_over_time(posfleet_terminal_up{job='posfleet-collector'}[1m])",
                end,
            )
            or None
        ),
        timeout=20,
    )
    assert {r["metric"]["terminal"]: r["value"][1] for r in counts} == {
        "T-00000": "3",
        "T-00001": "3",
        "T-00002": "3",
    }
    latency = query(prometheus.url, "posfleet_network_acquirer_latency_seconds", end)
    assert {r["value"][1] for r in latency} == {"0.42"}
    assert writer.stats.samples_sent == 3 * 165


async def test_victoria_metrics_stores_what_was_written(
    victoria_metrics: VictoriaMetricsServer, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    writer = writer_for(f"{victoria_metrics.url}/api/v1/write", tmp_path, SetClock(now))
    await writer.collect_once()
    await writer.send_pending(session)
    await asyncio.to_thread(victoria_metrics.force_flush)
    result = query(
        victoria_metrics.url,
        "sum by (store) (posfleet_printer_paper_state{state='near_end', instance='edge-test'})",
        now,
    )
    assert [(r["metric"]["store"], r["value"][1]) for r in result] == [("S-0000", "3")]
