"""A full card number is refused on every input path, and nothing of it reaches storage
(the case store's SQLite file, InfluxDB write bodies and buffer) or the logs.

Files (reconciliation CSV) are covered in test_reconcile and test_cli. The ticket bridge's
webhook is not covered: it does not screen labels and annotations for card data (yet).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from posfleet.collector.driver import DriverError
from posfleet.collector.metrics import CollectorStats
from posfleet.collector.mqtt_hub import MqttHub, client_factory
from posfleet.collector.sink import FanOut, MemorySink, Sink
from posfleet.config.models import (
    InfluxDbSettings,
    IngestSettings,
    MqttSettings,
    PosfleetConfig,
    UplinkSettings,
)
from posfleet.exporters.influxdb.sink import InfluxDbSink
from posfleet.exporters.influxdb.transport import WriteResponse
from posfleet.exporters.ingest.app import IngestApp
from posfleet.exporters.mqtt_uplink.connection import BrokerOptions, make_client
from posfleet.logs import configure_logging
from posfleet.payments.cases import CaseEngine
from posfleet.telemetry.docs import EXAMPLE_STATUS, EXAMPLE_TRANSACTION
from tests.collector.drivers.terminal_server import running_terminals
from tests.collector.drivers.test_http import make_driver
from tests.collector.fakes import wait_for
from tests.collector.test_mqtt_hub import INVENTORY, PREFIX, topic
from tests.fixtures.servers import MosquittoServer
from tests.payments.support import FULL_PAN, Clock, make_engine

PAN_FORMS = (FULL_PAN, "4761 7390 0101 0010", "4761-7390-0101-0010")


class RecordingTransport:
    """An InfluxDB that accepts everything and keeps the bodies."""

    endpoint = "memory://influxdb"

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def write(self, body: bytes) -> WriteResponse:
        self.bodies.append(body)
        return WriteResponse(204)

    async def close(self) -> None:
        return None


def transactions(terminal: str = "T-1") -> list[dict[str, Any]]:
    base = dict(EXAMPLE_TRANSACTION, terminal_id=terminal, merchant_id="acme", store_id="S-1")
    good = dict(base, transaction_id=f"{terminal}-good", outcome="timeout",
                host_response_code=None, local_error="network_timeout",
                reversal_state="pending")
    return [
        dict(base, transaction_id=f"{terminal}-a", masked_pan=FULL_PAN),
        dict(base, transaction_id=f"{terminal}-b", operator_id="anna", pan=FULL_PAN),
        {**base, "transaction_id": f"{terminal}-c", "note": f"card {PAN_FORMS[1]}"},
        dict(base, transaction_id=f"{terminal}-d", rrn=None,
             entry_mode="magstripe", track2=f";{FULL_PAN}=25121011"),
        good,
    ]


def outputs(tmp_path: Path) -> tuple[CaseEngine, InfluxDbSink, RecordingTransport, MemorySink]:
    engine = make_engine(tmp_path, Clock())
    transport = RecordingTransport()
    influx = InfluxDbSink(
        InfluxDbSettings(batch_size=10, flush_interval_seconds=0.05),
        tmp_path / "buffer",
        buffer_max_bytes=1_048_576,
        transport=transport,
    )
    return engine, influx, transport, MemorySink()


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """posfleet's own logging set-up at --log-level debug, captured (gmqtt logs payloads at
    DEBUG: the set-up keeps it at WARNING, which this proves matters)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("gmqtt").level)
    configure_logging("text", "debug")
    root.addHandler(caplog.handler)
    yield caplog
    root.handlers[:], level, gmqtt_level = saved
    root.setLevel(level)
    logging.getLogger("gmqtt").setLevel(gmqtt_level)


def files(directory: Path) -> Iterator[Path]:
    return (path for path in directory.rglob("*") if path.is_file())


async def assert_no_pan_anywhere(
    tmp_path: Path, engine: CaseEngine, influx: InfluxDbSink, transport: RecordingTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await influx.close()
    await engine.close()
    assert transport.bodies, "the good transaction was written"
    stored = [path.read_bytes() for path in files(tmp_path)]
    for form in PAN_FORMS:
        assert form not in caplog.text
        for body in transport.bodies:
            assert form.encode() not in body
        for content in stored:
            assert form.encode() not in content
    assert any(b"-good" in body for body in transport.bodies)


@pytest.mark.server
async def test_mqtt_collector_hub_refuses_card_data(
    tmp_path: Path, mosquitto: MosquittoServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    caplog = debug_logs
    engine, influx, transport, memory = outputs(tmp_path)
    sinks: list[Sink] = [engine, influx, memory]
    stats = CollectorStats()
    settings = MqttSettings(url=mosquitto.url, topic_prefix=PREFIX)
    hub = MqttHub(
        settings,
        INVENTORY,
        connect=client_factory(settings, "hub-card-test"),
        sink=FanOut(sinks),
        stats=stats,
        max_payload_bytes=4096,
    )
    task = asyncio.create_task(hub.run())
    try:
        async with asyncio.timeout(10):
            await hub.connected.wait()
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
            for body in transactions():
                await client.publish(topic(kind="transactions"), json.dumps(body), qos=1)
        await wait_for(lambda: len(memory.transactions) == 1)
        await wait_for(lambda: stats.bad_input[("mqtt", "card_data")] == 4)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [event.transaction_id for event in memory.transactions] == ["T-1-good"]
    assert len(engine.tracker) == 1  # the good timeout waits for its reversal
    await assert_no_pan_anywhere(tmp_path, engine, influx, transport, caplog)


@pytest.mark.server
async def test_ingest_refuses_card_data(
    tmp_path: Path, mosquitto: MosquittoServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    caplog = debug_logs
    engine, influx, transport, memory = outputs(tmp_path)
    uplink = "posfleet/uplink/v1/acme/S-1/T-1/transactions"
    config = PosfleetConfig(
        ingest=IngestSettings(url=mosquitto.url, share_group="card-test"),
        uplink=UplinkSettings(url=mosquitto.url),
    )
    app = IngestApp(config, [engine, influx, memory], listen="127.0.0.1:0", client_id="card")
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop))
    try:
        async with asyncio.timeout(10):
            await app.consumer.subscribed.wait()
        async with make_client(BrokerOptions(mosquitto.url, "card-publisher", 0)) as client:
            for body in transactions():
                await client.publish(uplink, json.dumps(body).encode(), qos=1)
        await wait_for(lambda: len(memory.transactions) == 1)
        await wait_for(lambda: app.stats.refused["card_data"] == 4)
    finally:
        stop.set()
        await task
    assert len(engine.tracker) == 1
    await assert_no_pan_anywhere(tmp_path, engine, influx, transport, caplog)


async def test_http_driver_refuses_a_status_with_card_data(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    caplog = debug_logs
    bodies = {
        "T-0451": {**EXAMPLE_STATUS, "card_number": FULL_PAN},
        "T-0452": {**EXAMPLE_STATUS, "terminal_id": "T-0452",
                   "system": {"last_swipe": f"%B{FULL_PAN}^DOE/JANE^2512101"}},
    }
    async with running_terminals() as server, aiohttp.ClientSession() as session:
        for terminal, body in bodies.items():
            server.bodies[terminal] = json.dumps(body).encode()
            with pytest.raises(DriverError) as refused:
                await make_driver(
                    session, server.status_url(terminal), terminal_id=terminal
                ).read()
            assert refused.value.reason == "card_data"
            assert FULL_PAN not in str(refused.value)
    assert FULL_PAN not in caplog.text
