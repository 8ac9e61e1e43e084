"""The MQTT hub against a real Mosquitto: good pushes get through around every kind of bad one."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import pytest

from posfleet.collector.metrics import CollectorStats
from posfleet.collector.mqtt_hub import MqttHub, TerminalAddress, client_factory
from posfleet.collector.sink import MemorySink
from posfleet.config.models import MqttSettings
from posfleet.telemetry.docs import EXAMPLE_TRANSACTION
from tests.collector.fakes import FakeClock, wait_for
from tests.fixtures.servers import MosquittoFactory, MosquittoServer

PREFIX = "posfleet/v1"
INVENTORY = {
    "T-1": TerminalAddress("acme", "S-1"),
    "T-2": TerminalAddress("acme", "S-1"),
}


def status(terminal: str = "T-1", minute: int = 0, **extra: Any) -> bytes:
    body = {
        "terminal_id": terminal,
        "merchant_id": "acme",
        "store_id": "S-1",
        "observed_at": f"2026-11-25T10:{minute:02d}:00Z",
        "network": {"link_up": True},
        **extra,
    }
    return json.dumps(body).encode()


def transaction(**extra: Any) -> bytes:
    body = dict(EXAMPLE_TRANSACTION, terminal_id="T-1", merchant_id="acme", store_id="S-1")
    return json.dumps({**body, **extra}).encode()


def topic(terminal: str = "T-1", kind: str = "status", store: str = "S-1") -> str:
    return f"{PREFIX}/acme/{store}/{terminal}/{kind}"


def make_hub(url: str, sink: MemorySink, stats: CollectorStats, **kwargs: Any) -> MqttHub:
    settings = MqttSettings(url=url, topic_prefix=PREFIX)
    return MqttHub(
        settings,
        INVENTORY,
        connect=client_factory(settings, f"hub-{secrets.token_hex(4)}"),
        sink=sink,
        stats=stats,
        max_payload_bytes=4096,
        **kwargs,
    )


@pytest.fixture
async def publisher(mosquitto: MosquittoServer) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        yield client


@pytest.mark.server
async def test_good_messages_arrive_around_bad_ones(
    mosquitto: MosquittoServer, publisher: aiomqtt.Client
) -> None:
    sink, stats = MemorySink(), CollectorStats()
    hub = make_hub(mosquitto.url, sink, stats)
    task = asyncio.create_task(hub.run())
    try:
        async with asyncio.timeout(10):
            await hub.connected.wait()
        messages: list[tuple[str, bytes]] = [
            (topic(), status(minute=1)),
            (topic(), b'{"terminal_id": "T-1", "merchant'),  # bad JSON
            (topic("T-2"), status("T-2", minute=1)),
            (topic(), status(minute=2, printer={"online": "yes"})),  # wrong type
            (topic(), status(minute=3, padding="x" * 10_000)),  # larger than the cap
            (topic(), bytes(range(256))),  # binary garbage
            (topic("T-404"), status("T-404")),  # not in the inventory
            (topic(), status(minute=4, pan="4761739001010010")),  # card data
            (topic("T-1", store="S-9"), status()),  # topic disagrees with the inventory
            (topic("T-2"), status("T-1", minute=5)),  # body from another terminal
            (topic(kind="transactions"), transaction()),
            (topic(kind="transactions"), transaction(masked_pan="4761739001010010")),
            (topic(), status(minute=30)),
        ]
        for name, payload in messages:
            await publisher.publish(name, payload, qos=1)
        await wait_for(lambda: sum(stats.bad_input.values()) == 9 and len(sink.transactions) == 1)
        await wait_for(lambda: hub.latest("T-1")[0] is not None)
        await wait_for(lambda: hub.latest("T-1")[0].snapshot.observed_at.minute == 30)  # type: ignore[union-attr]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert dict(stats.bad_input) == {
        ("mqtt", "malformed"): 2,  # bad JSON, wrong type
        ("mqtt", "too_large"): 1,
        ("mqtt", "binary"): 1,
        ("mqtt", "unknown_terminal"): 1,
        ("mqtt", "card_data"): 2,  # in a status, and unmasked in masked_pan
        ("mqtt", "wrong_terminal"): 2,
    }
    pushed_t2, _ = hub.latest("T-2")
    assert pushed_t2 is not None
    assert pushed_t2.snapshot.terminal_id == "T-2"
    assert hub.latest("T-404") == (None, None)
    assert sink.transactions[0].transaction_id == EXAMPLE_TRANSACTION["transaction_id"]
    # The last word from T-1 was good, so it is no longer refused-after-good.
    pushed, refused = hub.latest("T-1")
    assert pushed is not None
    assert refused is not None
    assert pushed.received_at >= refused.received_at


@pytest.mark.server
async def test_hub_reconnects_when_the_broker_comes_back(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory()
    sink, stats = MemorySink(), CollectorStats()
    hub = make_hub(broker.url, sink, stats)
    task = asyncio.create_task(hub.run())
    try:
        async with asyncio.timeout(10):
            await hub.connected.wait()
        await asyncio.to_thread(broker.restart)
        await wait_for(lambda: not hub.connected.is_set())
        async with asyncio.timeout(20):
            await hub.connected.wait()
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.publish(topic(), status(minute=7), qos=1)
        await wait_for(lambda: hub.latest("T-1")[0] is not None)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_refusals_are_logged_once_per_terminal_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    stats = CollectorStats()
    hub = make_hub("mqtt://127.0.0.1:1", MemorySink(), stats, clock=clock, log_interval_seconds=15)
    caplog.set_level(logging.WARNING, logger="posfleet.collector.mqtt_hub")
    for _ in range(5):
        await hub.handle(topic(), b"not json")
    await hub.handle(topic("T-2"), b"not json")
    assert len(caplog.records) == 2
    await clock.advance(16)
    await hub.handle(topic(), b"not json")
    assert len(caplog.records) == 3
    assert stats.bad_input[("mqtt", "malformed")] == 7
    assert "not json" not in caplog.text  # payloads are never logged


async def test_custom_status_topic_maps_to_its_terminal() -> None:
    hub = make_hub("mqtt://127.0.0.1:1", MemorySink(), CollectorStats())
    hub.add_status_topic("vendor/acme/device-7/state", "T-2")
    assert "vendor/acme/device-7/state" in hub.subscriptions()
    await hub.handle("vendor/acme/device-7/state", status("T-2"))
    assert hub.latest("T-2")[0] is not None
