"""A real Prometheus scrapes the collector's /metrics and answers queries on terminal series."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.registry import CollectorRegistry

from posfleet.collector.metrics import CollectorMetrics, CollectorStats
from posfleet.collector.metrics_server import MetricsServer
from posfleet.exporters.catalogue import CATALOGUE, exposition_problems
from posfleet.exporters.prometheus.render import TerminalExposition
from tests.exporters.prometheus.fleet import fleet
from tests.fixtures.net import wait_until
from tests.fixtures.servers import PrometheusFactory, scrape_job


@pytest.fixture
async def metrics_address() -> AsyncIterator[str]:
    state = fleet(8)
    registry = CollectorRegistry()
    registry.register(CollectorMetrics(CollectorStats(), state.health_counts))
    server = MetricsServer(registry, "127.0.0.1:0", TerminalExposition(state.terminals).exposition)
    address = await server.start()
    yield address
    await server.stop()


async def test_metrics_serves_self_and_terminal_metrics_as_the_catalogue_says(
    metrics_address: str,
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{metrics_address}/metrics") as response,
    ):
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    assert exposition_problems(text, CATALOGUE) == []
    assert "posfleet_collector_terminals" in text
    assert text.count("posfleet_terminal_up{") == 8


@pytest.mark.server
async def test_prometheus_scrapes_the_terminal_series(
    metrics_address: str, prometheus_factory: PrometheusFactory
) -> None:
    prometheus = await asyncio.to_thread(
        prometheus_factory, scrape_configs=[scrape_job("posfleet", [metrics_address])]
    )

    def per_store() -> list[dict[str, Any]] | None:
        result = prometheus.query("sum by (store) (posfleet_printer_paper_state{state='near_end'})")
        return result if len(result) == 2 else None

    # The loop must keep answering scrapes while we wait, so the waiting runs in a thread.
    result = await asyncio.to_thread(
        wait_until, per_store, timeout=30, message="per-store paper series in Prometheus"
    )
    assert {r["metric"]["store"]: r["value"][1] for r in result} == {"S-0000": "4", "S-0001": "4"}
    latency = prometheus.query('posfleet_network_acquirer_latency_seconds{terminal="T-00003"}')
    assert latency[0]["value"][1] == "0.42"
    assert latency[0]["metric"]["region"] == "north"
