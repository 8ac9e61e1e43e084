"""The MQTT uplink against a real Mosquitto (MQTT v5): delivery, broker restarts, kill -9,
retained online/offline status and the Last Will."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from posfleet.config.models import UplinkSettings
from posfleet.exporters.buffer import DiskBuffer
from posfleet.exporters.mqtt_uplink.records import UplinkMessage, decode, encode
from posfleet.exporters.mqtt_uplink.sink import MqttUplinkSink
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from tests.exporters.mqtt_uplink.helpers import (
    retained,
    sequence_of,
    status,
    subscribed,
    transaction,
)
from tests.fixtures.servers import MosquittoFactory, MosquittoServer

PREFIX = "posfleet/uplink/v1"
REPO = Path(__file__).resolve().parents[3]
PROCESS_SCRIPT = Path(__file__).with_name("uplink_process.py")


def make_sink(url: str, directory: Path, collector_id: str = "edge-1") -> MqttUplinkSink:
    settings = UplinkSettings(url=url, topic_prefix=PREFIX, publish_timeout_seconds=2.0)
    buffer = DiskBuffer(directory, max_bytes=16 * 1024 * 1024)
    return MqttUplinkSink(settings, collector_id, buffer, reconnect_max_seconds=1.0)


def first_occurrences(sequence: list[int]) -> list[int]:
    """Delivery is at-least-once: a batch unconfirmed at a broker restart is sent again."""
    seen: set[int] = set()
    firsts = []
    for value in sequence:
        if value not in seen:
            seen.add(value)
            firsts.append(value)
    return firsts


def test_records_keep_topic_and_payload() -> None:
    message = UplinkMessage("a/b/c", b'{"x": 1}')
    assert decode(encode(message)) == message


async def test_snapshots_and_transactions_arrive_on_terminal_topics(
    mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    async with subscribed(mosquitto.url, f"{PREFIX}/#", "test-delivery") as subscriber:
        sink = make_sink(mosquitto.url, tmp_path, "edge-delivery")
        snapshot, event = status("T-7", 1), transaction("T-7", 1)
        await sink.publish(snapshot)
        await sink.publish_transaction(event)
        await subscriber.wait_for(3)
        await sink.close()
        received = await subscriber.wait_for(4)
    by_topic = dict(received)
    assert StatusSnapshot.model_validate_json(by_topic[f"{PREFIX}/acme/S-1/T-7/status"]) == snapshot
    assert (
        TransactionEvent.model_validate_json(by_topic[f"{PREFIX}/acme/S-1/T-7/transactions"])
        == event
    )
    statuses = [payload for topic, payload in received if topic == sink.status_topic]
    assert statuses == [b"online", b"offline"]
    assert sink.stats.published == 2
    assert sink.stats.buffer is not None
    assert sink.stats.buffer.pending_records == 0
    # A clean close leaves the retained status saying offline.
    assert await retained(mosquitto.url, sink.status_topic) == b"offline"


async def test_broker_restart_during_uplink_loses_nothing(
    mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    broker = mosquitto_factory()
    total = 90
    sink = make_sink(broker.url, tmp_path / "buffer")
    async with subscribed(broker.url, f"{PREFIX}/+/+/+/status", "test-restart") as subscriber:
        for seq in range(30):
            for terminal in ("T-1", "T-2", "T-3"):
                await sink.publish(status(terminal, seq))
            if seq == 10:
                await asyncio.to_thread(broker.stop)
            if seq == 20:
                await asyncio.to_thread(broker.start)
        await subscriber.wait_for(total, seconds=30)
        await sink.close()
    per_terminal: dict[str, list[int]] = {}
    for topic, payload in subscriber.received:
        per_terminal.setdefault(topic.split("/")[-2], []).append(sequence_of(payload))
    for terminal in ("T-1", "T-2", "T-3"):
        assert first_occurrences(per_terminal[terminal]) == list(range(30)), terminal
    assert sink.stats.retries >= 1


def start_process(
    url: str, directory: Path, collector_id: str, count: int
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(PROCESS_SCRIPT), url, str(directory), collector_id, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
    )


async def expect_line(process: subprocess.Popen[str], line: str, seconds: float = 20.0) -> None:
    assert process.stdout is not None
    got = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), seconds)
    assert got.strip() == line


async def test_collector_killed_with_data_buffered_delivers_it_after_restart(
    mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    broker = mosquitto_factory()
    count = 40
    async with subscribed(broker.url, f"{PREFIX}/+/+/+/status", "test-kill") as subscriber:
        await asyncio.to_thread(broker.stop)
        first = start_process(broker.url, tmp_path / "buffer", "edge-kill", count)
        try:
            await expect_line(first, "buffered")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        await asyncio.to_thread(broker.start)
        second = start_process(broker.url, tmp_path / "buffer", "edge-kill", 0)
        try:
            await expect_line(second, "buffered")
            await expect_line(second, "delivered")
            received = await subscriber.wait_for(count)
        finally:
            second.send_signal(signal.SIGKILL)
            second.wait()
    assert first_occurrences([sequence_of(payload) for _, payload in received]) == list(
        range(count)
    )


async def test_last_will_says_offline_when_the_collector_dies(
    mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    status_topic = f"{PREFIX}/collectors/edge-will/online"
    process = start_process(mosquitto.url, tmp_path / "buffer", "edge-will", 1)
    try:
        await expect_line(process, "buffered")
        await expect_line(process, "delivered")
        assert await retained(mosquitto.url, status_topic) == b"online"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    for _ in range(50):
        if await retained(mosquitto.url, status_topic, seconds=1.0) == b"offline":
            break
    else:
        pytest.fail("the Last Will did not set the status to offline")
