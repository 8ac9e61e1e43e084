"""Central ingest throughput against the broker's own ceiling (target: 20,000 msg/s/process).

Starts a private Mosquitto on a free port, creates three persistent sessions (one for
``mosquitto_sub``, one for ingest's shared subscription, one for ingest's MQTT path alone),
pre-loads N full status snapshots (the documented example, with varying terminal ids and
times) at QoS 1, then times:

(a) ``mosquitto_sub -q 1 -C N`` draining its copy: what the broker and loopback can deliver
    to one C client, the physical ceiling;
(b) ingest draining its copy: MQTT in, checked against the telemetry contract, serialised
    (``model_dump_json``, as an output would) and handed to a sink that discards it, each
    message acknowledged after the write;
(c) ingest's MQTT path alone (connection and consumer, every message acknowledged without
    checks): what receiving and acknowledging costs.

Then where ingest's time goes per message (topic, card-data screen, validation, latest
snapshot, serialisation). Bounded: the broker is stopped at the end, every wait has a
deadline.

    .venv/bin/python bench/ingest_throughput.py [--messages 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import getpass
import json
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from posfleet.collector.inputs import parse_status
from posfleet.config.models import IngestSettings, PosfleetConfig, UplinkSettings
from posfleet.exporters.ingest.app import IngestApp, broker_connections, ingest_broker_options
from posfleet.exporters.ingest.checks import MessageChecker
from posfleet.exporters.ingest.consumer import IngestConsumer
from posfleet.exporters.ingest.latest import LatestSnapshots
from posfleet.exporters.ingest.metrics import IngestStats
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from posfleet.telemetry.card_data import screened_context
from posfleet.telemetry.docs import EXAMPLE_STATUS

PREFIX = "bench/uplink/v1"
GROUP = "bench"
MQTT_ONLY_GROUP = "bench-mqtt-only"
BASE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


class DiscardSink:
    """Serialises like an output would, then drops the result."""

    def __init__(self) -> None:
        self.count = 0

    async def publish(self, snapshot: StatusSnapshot) -> None:
        snapshot.model_dump_json(exclude_none=True)
        self.count += 1

    async def publish_transaction(self, event: TransactionEvent) -> None:
        event.model_dump_json(exclude_none=True)

    async def close(self) -> None:
        pass


def messages(count: int) -> Iterator[tuple[str, bytes]]:
    body = copy.deepcopy(EXAMPLE_STATUS)
    for index in range(count):
        terminal = f"T-{index % 20_000:05d}"
        store = f"S-{index % 20_000 // 4:04d}"
        body.update(terminal_id=terminal, store_id=store)
        body["observed_at"] = (BASE + timedelta(seconds=index // 20_000 * 15)).isoformat()
        yield f"{PREFIX}/acme/{store}/{terminal}/status", json.dumps(body).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tcp_connectable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def broker() -> Iterator[int]:
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "mosquitto.conf"
        config.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 1000\n"
            f"user {getpass.getuser()}\nlog_dest none\n"
        )
        process = subprocess.Popen(["mosquitto", "-c", str(config)], stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not tcp_connectable(port):
                if time.monotonic() > deadline:
                    raise SystemExit("mosquitto did not start")
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(10)


def ingest_config(port: int, group: str = GROUP) -> PosfleetConfig:
    return PosfleetConfig(
        ingest=IngestSettings(
            url=f"mqtt://127.0.0.1:{port}", share_group=group, subscribe_terminal_pushes=False
        ),
        uplink=UplinkSettings(topic_prefix=PREFIX),
    )


def create_sessions(port: int) -> None:
    subprocess.run(
        [
            "mosquitto_sub", "-p", str(port), "-V", "mqttv5", "-c", "-i", "bench-sub",
            "-x", "3600", "-q", "1", "-t", f"{PREFIX}/+/+/+/status", "-E",
        ],
        check=True,
        timeout=10,
    )  # fmt: skip

    async def ingest_session(group: str, client_id: str) -> None:
        # ingest itself subscribes its persistent session; stopped at once, the session stays
        app = IngestApp(ingest_config(port, group), listen="127.0.0.1:0", client_id=client_id)
        stop = asyncio.Event()
        task = asyncio.create_task(app.run(stop))
        async with asyncio.timeout(20):
            await app.consumer.subscribed.wait()
        stop.set()
        await task

    asyncio.run(ingest_session(GROUP, "bench-ingest"))
    asyncio.run(ingest_session(MQTT_ONLY_GROUP, "bench-mqtt-only"))


def preload(port: int, count: int) -> float:
    """Publish ``count`` messages at QoS 1; returns messages/s."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    started = time.perf_counter()
    pending: list[paho.MQTTMessageInfo] = []
    for topic, payload in messages(count):
        pending.append(client.publish(topic, payload, qos=1))
        if len(pending) == 5_000:  # paho's own queue is bounded: let the broker catch up
            for info in pending:
                info.wait_for_publish(60)
            pending.clear()
    for info in pending:
        info.wait_for_publish(60)
    elapsed = time.perf_counter() - started
    client.loop_stop()
    client.disconnect()
    return count / elapsed


def mosquitto_sub_rate(port: int, count: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            "mosquitto_sub", "-p", str(port), "-V", "mqttv5", "-c", "-i", "bench-sub",
            "-x", "3600", "-q", "1", "-t", f"{PREFIX}/+/+/+/status", "-C", str(count),
        ],
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=300,
    )  # fmt: skip
    return count / (time.perf_counter() - started)


class Rate:
    """Messages per second, and the ingest process's CPU time per message."""

    def __init__(self, count: int, wall_seconds: float, cpu_seconds: float) -> None:
        self.per_second = count / wall_seconds
        self.cpu_us = cpu_seconds / count * 1e6
        self.cpu_share = cpu_seconds / wall_seconds


async def until_acked(stats: IngestStats, count: int) -> None:
    async with asyncio.timeout(300):
        while stats.acked < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def ingest_rate(port: int, count: int) -> tuple[Rate, dict[str, int]]:
    sink = DiscardSink()
    app = IngestApp(ingest_config(port), [sink], listen="127.0.0.1:0", client_id="bench-ingest")
    stop = asyncio.Event()
    started, cpu = time.perf_counter(), time.process_time()
    task = asyncio.create_task(app.run(stop))
    await until_acked(app.stats, count)
    rate = Rate(count, time.perf_counter() - started, time.process_time() - cpu)
    stop.set()
    await task
    return rate, {"written": sink.count, "refused": sum(app.stats.refused.values())}


class AckEverything:
    """Stands in for the pipeline: every message acknowledged, nothing checked."""

    async def process(self, batch: Sequence[tuple[str, bytes]]) -> list[bool]:
        return [True] * len(batch)


async def mqtt_only_rate(port: int, count: int) -> Rate:
    config = ingest_config(port, MQTT_ONLY_GROUP)
    stats = IngestStats()
    consumer = IngestConsumer(
        AckEverything(),
        broker_connections(ingest_broker_options(config, "bench-mqtt-only")),
        [f"$share/{MQTT_ONLY_GROUP}/{PREFIX}/+/+/+/status"],
        stats,
    )
    started, cpu = time.perf_counter(), time.process_time()
    task = asyncio.create_task(consumer.run())
    try:
        await until_acked(stats, count)
        return Rate(count, time.perf_counter() - started, time.process_time() - cpu)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def per_message_us(action: Callable[[], object], repeat: int = 20_000) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        action()
    return (time.perf_counter() - started) / repeat * 1e6


def breakdown(mqtt_only: Rate) -> None:
    topic, payload = next(messages(1))
    snapshot = parse_status(payload, 1 << 20)
    context = screened_context(payload)
    checker = MessageChecker([PREFIX], 1 << 20)
    latest = LatestSnapshots(300.0)
    rows = {
        "MQTT in + PUBACK (from (c), CPU)": mqtt_only.cpu_us,
        "checks, all (MessageChecker.check)": per_message_us(lambda: checker.check(topic, payload)),
        "  card-data screen of the raw JSON": per_message_us(lambda: screened_context(payload)),
        "  pydantic validation": per_message_us(
            lambda: StatusSnapshot.model_validate_json(payload, context=context)
        ),
        "latest snapshot (record_all per 1)": per_message_us(lambda: latest.record_all([snapshot])),
        "serialise (model_dump_json)": per_message_us(
            lambda: snapshot.model_dump_json(exclude_none=True)
        ),
    }
    print(f"per message ({len(payload)} bytes), single core, this process alone:")
    for label, micros in rows.items():
        print(f"  {label:<38} {micros:6.1f} us")
    total = rows["MQTT in + PUBACK (from (c), CPU)"] + sum(
        rows[label]
        for label in (
            "checks, all (MessageChecker.check)",
            "latest snapshot (record_all per 1)",
            "serialise (model_dump_json)",
        )
    )
    print(f"  {'sum':<38} {total:6.1f} us  (= {1e6 / total:,.0f} msg/s on a free core)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    count = args.messages
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_sub") is None:
        raise SystemExit("needs mosquitto and mosquitto_sub (scripts/setup installs them)")
    with broker() as port:
        create_sessions(port)
        publish_rate = preload(port, count)
        ceiling = mosquitto_sub_rate(port, count)
        rate, counts = asyncio.run(ingest_rate(port, count))
        mqtt_only = asyncio.run(mqtt_only_rate(port, count))
    print(f"ingest throughput: {count:,} status messages of ~1 kB, QoS 1, one process")
    print(f"  pre-load (paho publisher)     {publish_rate:>10,.0f} msg/s")
    print(f"  (a) mosquitto_sub ceiling     {ceiling:>10,.0f} msg/s")
    print(
        f"  (b) posfleet ingest           {rate.per_second:>10,.0f} msg/s  "
        f"CPU {rate.cpu_us:.1f} us/msg, {rate.cpu_share:.0%} of a core  ({counts})"
    )
    print(
        f"  (c) ingest MQTT path alone    {mqtt_only.per_second:>10,.0f} msg/s  "
        f"CPU {mqtt_only.cpu_us:.1f} us/msg, {mqtt_only.cpu_share:.0%} of a core"
    )
    print(f"  ratio ingest / ceiling        {rate.per_second / ceiling:>10.2f}")
    print(f"  target 20,000 msg/s: {'met' if rate.per_second >= 20_000 else 'NOT met'}")
    breakdown(mqtt_only)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )


if __name__ == "__main__":
    main()
