"""``posfleet collect`` with a remote_write section pushes terminal and self-metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from posfleet.collector.app import CollectorApp
from posfleet.config import parse_config
from tests.collector.fakes import wait_for
from tests.exporters.remote_write.test_writer import Receiver, receiver
from tests.fixtures.net import free_port

__all__ = ["receiver"]  # the fixture, shared with test_writer


def names(receiver: Receiver) -> set[str]:
    return {series.labels["__name__"] for request in receiver.stored for series in request}


async def test_the_collector_serves_and_pushes_terminal_metrics(
    receiver: Receiver, tmp_path: Path
) -> None:
    config = parse_config(
        f"""
merchants: [{{id: acme, name: ACME}}]
collector: {{id: edge-test, interval_seconds: 0.2, timeout_seconds: 1, offline_after_failures: 2}}
remote_write: {{url: "{receiver.url}", interval_seconds: 0.2}}
buffer: {{directory: "{tmp_path}"}}
stores:
  - id: S-1
    merchant: acme
    name: Test store
    region: north
    terminals:
      - id: T-down
        driver: http
        connection: {{url: "http://127.0.0.1:{free_port()}/status"}}
"""
    )
    app = CollectorApp(config, listen="127.0.0.1:0")
    stop = asyncio.Event()
    run = asyncio.create_task(app.run(stop))
    await wait_for(
        lambda: {"posfleet_terminal_up", "posfleet_collector_polls_total"} <= names(receiver)
    )
    await wait_for(lambda: app.state.terminal("T-down").health == "offline")
    assert app.metrics_address is not None
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{app.metrics_address}/metrics") as response,
    ):
        text = await response.text()
    assert 'posfleet_terminal_health{merchant="acme",region="north",state="offline"' in text
    assert "posfleet_remote_write_samples_sent_total" in text
    stop.set()
    async with asyncio.timeout(10):
        await run
    assert app.remote_writer is not None
    assert app.remote_writer.stats.samples_sent > 0
