"""The collector polls a simulated fleet of 200 terminals over all three protocols.

Everything is real: the simulator serves HTTP on loopback, publishes to a real Mosquitto and
runs ESC/POS printers on pseudo-terminals; the collector reads the fleet configuration the
simulator writes, exactly as an edge box would read its own.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import paho.mqtt.publish as mqtt_publish
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from posfleet.collector.app import CollectorApp
from posfleet.collector.sink import MemorySink
from posfleet.collector.state import Health
from posfleet.config import PosfleetConfig, parse_config
from posfleet.simulator.config_writer import TOKEN_ENV
from posfleet.simulator.escpos_device import EscposPrinterDevice
from posfleet.simulator.runner import RunOptions, Simulation
from posfleet.simulator.scenario import Scenario
from tests.fixtures.servers import MosquittoServer

pytestmark = pytest.mark.server

TOKEN = "integration-token"
TERMINALS = 200


@dataclass
class Running:
    simulation: Simulation
    app: CollectorApp
    sink: MemorySink
    config: PosfleetConfig
    mosquitto: MosquittoServer

    def drivers(self) -> dict[str, str]:
        return {terminal.id: terminal.driver for _, terminal in self.config.terminals()}

    def first(self, driver: str, skip: int = 0) -> str:
        return [tid for tid, name in self.drivers().items() if name == driver][skip]

    def health(self, terminal_id: str) -> Health:
        return self.app.state.terminal(terminal_id).health

    async def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` with ``labels`` on the collector's /metrics."""
        assert self.app.metrics_address is not None
        url = f"http://{self.app.metrics_address}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            body = await response.text()
        total = 0.0
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    total += sample.value
        return total


async def eventually(check: Callable[[], bool], what: str, within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"not within {within:g} s: {what}")
        await asyncio.sleep(0.2)


def collector_config(written: str) -> PosfleetConfig:
    data = yaml.safe_load(written)
    data["collector"] = {
        "id": "edge-test",
        "interval_seconds": 0.5,
        # Well above the printers' 0.5 s answer timeout, so a busy CI machine still sees a
        # silent printer as "no_answer" and slow-but-healthy terminals stay online.
        "timeout_seconds": 3.0,
        "offline_after_failures": 2,
        "backoff_max_seconds": 1.0,
        "max_concurrent_polls": 64,
        "listen": "127.0.0.1:0",
    }
    return parse_config(yaml.safe_dump(data), "simulator-written config")


@pytest.fixture
async def running(mosquitto: MosquittoServer, tmp_path: Path) -> AsyncIterator[Running]:
    scenario = Scenario.model_validate(
        {
            "seed": 7,
            "speed": 60,
            "status_interval_seconds": 30,
            "fleet": {
                "terminals": TERMINALS,
                "stores": 20,
                "merchants": 3,
                "drivers": {"http": 0.6, "mqtt": 0.35, "escpos": 0.05},
            },
        }
    )
    config_path = tmp_path / "fleet.yml"
    simulation = Simulation(
        RunOptions(
            scenario=scenario,
            http_listen=("127.0.0.1", 0),
            token=TOKEN,
            mqtt_url=mosquitto.url,
            write_config=config_path,
        )
    )
    stop_simulation = asyncio.Event()
    simulating = asyncio.create_task(simulation.run(stop_simulation))
    await asyncio.wait_for(simulation.ready.wait(), 30)
    config = collector_config(config_path.read_text())
    sink = MemorySink()
    app = CollectorApp(config, [sink], environ={TOKEN_ENV: TOKEN})
    stop_collector = asyncio.Event()
    collecting = asyncio.create_task(app.run(stop_collector))
    try:
        yield Running(simulation, app, sink, config, mosquitto)
    finally:
        stop_collector.set()
        stop_simulation.set()
        await asyncio.wait_for(collecting, 30)
        await asyncio.wait_for(simulating, 30)


def online_count(run: Running) -> int:
    return run.app.state.health_counts().get(Health.ONLINE, 0)


async def test_every_terminal_of_every_driver_comes_online(running: Running) -> None:
    by_driver = Counter(running.drivers().values())
    assert sum(by_driver.values()) == TERMINALS
    assert set(by_driver) == {"http", "mqtt", "escpos"}, by_driver

    await eventually(lambda: online_count(running) == TERMINALS, "all 200 terminals online")

    published = {snapshot.terminal_id for snapshot in running.sink.snapshots}
    assert published == set(running.drivers()), "every terminal's snapshot reached the sink"
    escpos_view = running.app.state.terminal(running.first("escpos"))
    assert escpos_view.snapshot is not None
    assert escpos_view.snapshot.printer is not None
    assert escpos_view.snapshot.printer.online is not None
    http_view = running.app.state.terminal(running.first("http"))
    assert http_view.snapshot is not None
    assert http_view.snapshot.collector_id == "edge-test"
    assert await running.metric("posfleet_collector_terminals", state="online") == TERMINALS


async def test_unreachable_terminals_go_offline_and_recover_without_delaying_others(
    running: Running,
) -> None:
    await eventually(lambda: online_count(running) == TERMINALS, "all terminals online first")
    assert running.simulation.status_server is not None
    slow = running.first("http")
    printer_id = running.first("escpos")
    printer = running.simulation.escpos_bridge.devices[printer_id]
    assert isinstance(printer, EscposPrinterDevice)

    running.simulation.status_server.faults[slow] = "slow"  # answers after 10 s: a timeout
    printer.faults.silent = True  # printer switched off
    await eventually(
        lambda: (
            running.health(slow) is Health.OFFLINE and running.health(printer_id) is Health.OFFLINE
        ),
        "the silent terminals marked offline",
    )
    view = running.app.state.terminal(slow)
    assert view.last_seen is not None, "offline terminals keep their last-seen time"
    assert "timeout" in (view.reason or "")
    assert "no_answer" in (running.app.state.terminal(printer_id).reason or "")
    assert online_count(running) == TERMINALS - 2, "nobody else is affected"

    del running.simulation.status_server.faults[slow]
    printer.faults.silent = False
    await eventually(lambda: online_count(running) == TERMINALS, "both back online")


async def test_malformed_input_is_counted_and_shown_as_degraded(running: Running) -> None:
    await eventually(lambda: online_count(running) == TERMINALS, "all terminals online first")
    server = running.simulation.status_server
    assert server is not None
    truncated, wrong_types, oversized = (running.first("http", skip) for skip in (1, 2, 3))
    server.faults.update(
        {truncated: "truncated", wrong_types: "wrong_types", oversized: "oversized"}
    )
    noisy_id = running.first("escpos", 1)
    noisy = running.simulation.escpos_bridge.devices[noisy_id]
    assert isinstance(noisy, EscposPrinterDevice)
    noisy.faults.noise = b"\xff\x00\xfe"

    pushed = running.first("mqtt")
    store = next(s for s, t in running.config.terminals() if t.id == pushed)
    topic = f"posfleet/v1/{store.merchant}/{store.id}/{pushed}/status"
    bad_payloads = (b"{not json", b"\x00\x01\x02\xff" * 10, json.dumps({"terminal_id": 5}))
    for payload in bad_payloads:
        await asyncio.to_thread(
            mqtt_publish.single,
            topic,
            payload,
            qos=1,
            hostname=running.mosquitto.host,
            port=running.mosquitto.port,
        )

    def degraded(terminal_id: str, reason: str) -> bool:
        view = running.app.state.terminal(terminal_id)
        return view.health is Health.DEGRADED and reason in (view.reason or "")

    await eventually(
        lambda: (
            degraded(truncated, "malformed")
            and degraded(wrong_types, "malformed")
            and degraded(oversized, "too_large")
        ),
        "http terminals sending bad data shown degraded with the reason",
    )
    bad_input = "posfleet_collector_bad_input_total"
    assert await running.metric(bad_input, driver="http", reason="malformed") >= 2
    assert await running.metric(bad_input, driver="http", reason="too_large") >= 1
    for _ in range(100):
        if await running.metric(bad_input, driver="mqtt") >= 3:
            break
        await asyncio.sleep(0.1)
    assert await running.metric(bad_input, driver="mqtt") >= 3, "bad MQTT pushes counted"
    # Noise on the serial line is discarded: the printer is still read.
    assert running.health(noisy_id) is Health.ONLINE
    # Everyone else kept being polled.
    healthy = TERMINALS - 4
    assert online_count(running) >= healthy - 1  # the mqtt terminal may show degraded meanwhile

    server.faults.clear()
    noisy.faults.noise = b""
    await eventually(
        lambda: all(
            running.health(t) is Health.ONLINE for t in (truncated, wrong_types, oversized)
        ),
        "terminals whose data is good again are online again",
    )
