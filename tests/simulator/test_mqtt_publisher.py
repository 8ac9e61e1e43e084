"""MQTT terminals publish snapshots and transactions to a real Mosquitto, QoS 1."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest

from posfleet.simulator.mqtt_publisher import MqttPublisher, messages_for
from posfleet.topics import DEFAULT_PREFIX, subscription
from tests.fixtures.servers import MosquittoServer
from tests.simulator.helpers import HOUR, make_fleet, run


def test_only_mqtt_terminals_publish_on_the_standard_topics() -> None:
    fleet = make_fleet(30, record_all=True)
    batches = run(fleet, HOUR)
    messages = [m for batch in batches for m in messages_for(batch)]
    mqtt_ids = {t.spec.id for t in fleet.terminals if t.spec.driver == "mqtt"}
    assert messages
    for topic, _ in messages:
        prefix, rest = topic[: len(DEFAULT_PREFIX)], topic[len(DEFAULT_PREFIX) + 1 :]
        _merchant, _store, terminal, kind = rest.split("/")
        assert prefix == DEFAULT_PREFIX
        assert terminal in mqtt_ids
        assert kind in ("status", "transactions")


@pytest.mark.server
async def test_publishes_to_a_real_broker(mosquitto: MosquittoServer) -> None:
    fleet = make_fleet(30, record_all=True)
    batches = run(fleet, 600.0)
    messages = [m for batch in batches for m in messages_for(batch)]
    assert messages
    received: list[tuple[str, dict[str, object]]] = []
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="sim-test") as sub:
        await sub.subscribe(subscription(DEFAULT_PREFIX, "status"), qos=1)
        await sub.subscribe(subscription(DEFAULT_PREFIX, "transactions"), qos=1)
        publisher = MqttPublisher(mosquitto.url)
        task = asyncio.create_task(publisher.run())
        try:
            publisher.submit(messages)
            async with asyncio.timeout(10):
                await publisher.flush()
                async for message in sub.messages:
                    payload = message.payload
                    assert isinstance(payload, bytes)
                    received.append((str(message.topic), json.loads(payload)))
                    if len(received) == len(messages):
                        break
        finally:
            task.cancel()
    assert publisher.published_total == len(messages)
    assert sorted(topic for topic, _ in received) == sorted(topic for topic, _ in messages)
