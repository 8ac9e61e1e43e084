"""The whole collector: config in, snapshots and /metrics out, clean stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import aiomqtt
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from posfleet.cli import cli
from posfleet.collector.app import CollectorApp, StartupError
from posfleet.collector.sink import MemorySink
from posfleet.config import parse_config
from posfleet.config.models import PosfleetConfig
from posfleet.telemetry.docs import EXAMPLE_STATUS
from tests.collector.drivers.terminal_server import TOKEN, FakeTerminals, running_terminals
from tests.collector.fakes import wait_for
from tests.fixtures.net import free_port
from tests.fixtures.servers import MosquittoServer


def fleet_yaml(terminals: FakeTerminals, mqtt_url: str, listen: str) -> str:
    return f"""
merchants: [{{id: acme, name: ACME}}]
collector:
  id: edge-test
  interval_seconds: 0.2
  timeout_seconds: 2
  offline_after_failures: 2
  listen: "{listen}"
mqtt: {{url: "{mqtt_url}"}}
stores:
  - id: S-1
    merchant: acme
    name: Test store
    region: north
    terminals:
      - id: T-good
        driver: http
        connection: {{url: "{terminals.status_url("T-good")}", token_env: TEST_TERMINAL_TOKEN}}
      - id: T-down
        driver: http
        connection: {{url: "http://127.0.0.1:{free_port()}/status"}}
      - id: T-push
        driver: mqtt
"""


def status_of(terminal_id: str) -> bytes:
    return json.dumps(
        dict(EXAMPLE_STATUS, terminal_id=terminal_id, merchant_id="acme", store_id="S-1")
    ).encode()


@pytest.fixture
async def terminals() -> AsyncIterator[FakeTerminals]:
    async with running_terminals() as server:
        server.bodies["T-good"] = status_of("T-good")
        yield server


async def scrape(address: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Samples of /metrics by name and sorted labels."""
    async with aiohttp.ClientSession() as session, session.get(f"http://{address}/metrics") as r:
        text = await r.text()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


@pytest.mark.server
async def test_collector_polls_publishes_and_serves_metrics(
    terminals: FakeTerminals, mosquitto: MosquittoServer
) -> None:
    config = parse_config(fleet_yaml(terminals, mosquitto.url, "127.0.0.1:0"))
    sink = MemorySink()
    app = CollectorApp(config, [sink], environ={"TEST_TERMINAL_TOKEN": TOKEN})
    stop = asyncio.Event()
    run = asyncio.create_task(app.run(stop))
    await wait_for(lambda: app.hub is not None and app.hub.connected.is_set())
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        await client.publish("posfleet/v1/acme/S-1/T-push/status", status_of("T-push"), qos=1)
        await wait_for(lambda: any(s.terminal_id == "T-push" for s in sink.snapshots))
        await client.publish("posfleet/v1/acme/S-1/T-push/status", b"\xff\xfegarbage", qos=1)
    await wait_for(lambda: app.state.terminal("T-down").health == "offline")
    await wait_for(lambda: app.state.terminal("T-push").health == "degraded")
    assert app.state.terminal("T-good").health == "online"
    assert app.state.terminal("T-down").last_seen is None
    assert "binary" in (app.state.terminal("T-push").reason or "")
    good = [s for s in sink.snapshots if s.terminal_id == "T-good"]
    assert good
    assert (good[-1].collector_id, good[-1].region) == ("edge-test", "north")

    assert app.metrics_address is not None
    samples = await scrape(app.metrics_address)
    assert samples["posfleet_collector_polls_total"][(("driver", "http"), ("result", "ok"))] > 0
    errors = samples["posfleet_collector_poll_errors_total"]
    assert errors[(("driver", "http"), ("reason", "unreachable"))] >= 2
    bad_input = samples["posfleet_collector_bad_input_total"]
    assert bad_input[(("driver", "mqtt"), ("reason", "binary"))] == 1
    assert samples["posfleet_collector_terminals"] == {
        (("state", "unknown"),): 0,
        (("state", "online"),): 1,
        (("state", "degraded"),): 1,
        (("state", "offline"),): 1,
    }
    assert samples["posfleet_collector_poll_duration_seconds_count"][(("driver", "http"),)] > 0
    assert samples["posfleet_collector_scheduling_lag_seconds_count"][()] > 0
    assert "posfleet_collector_scheduling_lag_p99_seconds" in samples

    stop.set()
    async with asyncio.timeout(10):
        await run
    assert sink.closed


async def test_a_source_that_cannot_be_built_stops_the_start() -> None:
    config = parse_config(
        """
merchants: [{id: acme, name: ACME}]
stores:
  - {id: S-1, merchant: acme, name: S, region: north, terminals: [
      {id: T-1, driver: http, connection: {url: "https://10.0.0.1/", ca_file: /nonexistent.pem}}]}
"""
    )
    app = CollectorApp(config, listen="127.0.0.1:0")
    with pytest.raises(StartupError) as caught:
        await app.run(asyncio.Event())
    assert "terminal T-1" in caught.value.problems[0]


def test_bad_listen_address_is_a_startup_error() -> None:
    with pytest.raises(StartupError):
        CollectorApp(PosfleetConfig(), listen="nonsense")


def test_collect_with_a_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yml"
    path.write_text("collector:\n  interval_seconds: soon\n")
    result = CliRunner().invoke(cli, ["collect", "-c", str(path)])
    assert result.exit_code == 2
    assert "collector.interval_seconds" in result.output
    assert "Traceback" not in result.output


def test_collect_with_a_bad_listen_address_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yml"
    path.write_text("merchants: []\n")
    result = CliRunner().invoke(cli, ["collect", "-c", str(path), "--listen", "no-port"])
    assert result.exit_code == 2
    assert "host:port" in result.output


@pytest.mark.server
async def test_collect_command_stops_cleanly_on_sigterm(
    tmp_path: Path, terminals: FakeTerminals, mosquitto: MosquittoServer
) -> None:
    listen = f"127.0.0.1:{free_port()}"
    path = tmp_path / "fleet.yml"
    path.write_text(fleet_yaml(terminals, mosquitto.url, listen))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from posfleet.cli import main; main()",
        "collect",
        "-c",
        str(path),
        "--print",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "TEST_TERMINAL_TOKEN": TOKEN},
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = await process.stdout.readline()
        assert json.loads(line)["status"]["terminal_id"] == "T-good"
        samples = await scrape(listen)
        assert "posfleet_collector_polls_total" in samples
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    assert b"collector stopped" in stderr
