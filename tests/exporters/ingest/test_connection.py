"""Ingest's broker connection (gmqtt) against a real Mosquitto: nothing is acknowledged
until ingest says so, and a lost connection stays lost (ingest opens the next one itself).

These also pin the gmqtt internals the connection relies on (see connection.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from posfleet.exporters.ingest.connection import BrokerConnection, ConnectionFailed
from posfleet.exporters.mqtt_uplink.connection import BrokerOptions
from tests.exporters.ingest.test_ingest_broker import publish, until
from tests.fixtures.net import free_port
from tests.fixtures.servers import MosquittoFactory, MosquittoServer

TOPICS = ["conn-test/#"]


def connection(url: str, client_id: str) -> BrokerConnection:
    options = BrokerOptions(url, client_id, session_expiry_seconds=60, receive_maximum=10)
    return BrokerConnection(options, TOPICS, lambda: None, timeout_seconds=5)


def payloads(received: BrokerConnection) -> Callable[[], list[bytes]]:
    return lambda: [payload for _, payload in received.messages]


async def test_only_acknowledged_messages_come_back_on_the_next_connection(
    mosquitto: MosquittoServer,
) -> None:
    first = connection(mosquitto.url, "ack-test")
    await first.open()
    await publish(mosquitto.url, [(f"conn-test/{seq}", str(seq).encode()) for seq in range(3)])
    await until(lambda: payloads(first)() == [b"0", b"1", b"2"])
    _, mids = first.take(10)
    assert first.acknowledge([mid for mid in mids[:1] if mid is not None]) == 1
    await first.close()

    second = connection(mosquitto.url, "ack-test")
    await second.open()
    try:
        await until(lambda: len(second.messages) >= 2)
        await asyncio.sleep(0.3)  # the acknowledged one would show up by now
        assert payloads(second)() == [b"1", b"2"]
    finally:
        await second.close()


async def test_a_lost_connection_is_not_reopened_behind_ingest_s_back(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory()
    lost = connection(broker.url, "lost-test")
    await lost.open()
    client = lost._client  # gmqtt's own reconnect would start at once with no delay:
    client.reconnect_delay = 0
    await asyncio.to_thread(broker.restart)
    await until(lambda: lost.lost)
    await asyncio.sleep(1.0)
    assert not client.is_connected
    assert lost.acknowledge([1]) == 0


async def test_an_unreachable_broker_is_a_connection_failure_naming_it() -> None:
    port = free_port()
    unreachable = connection(f"mqtt://127.0.0.1:{port}", "nobody")
    with pytest.raises(ConnectionFailed, match=f"127.0.0.1:{port}"):
        await unreachable.open()
    await unreachable.close()


async def test_a_missing_ca_file_is_a_connection_failure_naming_tls(tmp_path: Path) -> None:
    options = BrokerOptions(
        f"mqtts://127.0.0.1:{free_port()}", "tls", 60, ca_file=str(tmp_path / "missing.pem")
    )
    secured = BrokerConnection(options, TOPICS, lambda: None, timeout_seconds=5)
    with pytest.raises(ConnectionFailed, match="TLS set-up"):
        await secured.open()
    await secured.close()
