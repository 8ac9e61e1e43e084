"""Ingest against a real Mosquitto (MQTT v5 shared subscriptions): load spread without
duplicates, bad input that never stalls, acknowledgement only after the write."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence

from posfleet.collector.sink import MemorySink, Sink
from posfleet.config.models import IngestSettings, PosfleetConfig, UplinkSettings
from posfleet.exporters.ingest.app import IngestApp
from posfleet.exporters.mqtt_uplink.connection import BrokerOptions, make_client
from tests.exporters.ingest.test_pipeline import BAD_MESSAGES, FailingSink, good
from tests.fixtures.net import http_request
from tests.fixtures.servers import MosquittoFactory, MosquittoServer


def config(url: str, group: str, max_in_flight: int = 100) -> PosfleetConfig:
    return PosfleetConfig(
        ingest=IngestSettings(url=url, share_group=group, max_in_flight=max_in_flight),
        uplink=UplinkSettings(url=url),
    )


@contextlib.asynccontextmanager
async def running(
    settings: PosfleetConfig, sinks: Sequence[Sink], client_id: str, listen: str = "127.0.0.1:0"
) -> AsyncIterator[IngestApp]:
    app = IngestApp(settings, sinks, listen=listen, client_id=client_id)
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop))
    try:
        async with asyncio.timeout(10):
            await app.consumer.subscribed.wait()
        yield app
    finally:
        stop.set()
        await task


async def publish(url: str, messages: Sequence[tuple[str, bytes]]) -> None:
    async with make_client(BrokerOptions(url, "test-publisher", 0)) as client:
        for start in range(0, len(messages), 100):
            chunk = messages[start : start + 100]
            await asyncio.gather(*(client.publish(t, p, qos=1) for t, p in chunk))


async def until(condition: object, seconds: float = 20.0) -> None:
    assert callable(condition)
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_three_workers_share_the_load_and_write_each_message_once(
    mosquitto: MosquittoServer,
) -> None:
    settings = config(mosquitto.url, "share-test")
    sinks = [MemorySink(), MemorySink(), MemorySink()]
    total = 300
    async with contextlib.AsyncExitStack() as stack:
        for index, sink in enumerate(sinks):
            await stack.enter_async_context(running(settings, [sink], f"share-test-{index}"))
        await publish(mosquitto.url, [good(seq, f"T-{seq % 10}") for seq in range(total)])
        await until(lambda: sum(len(sink.snapshots) for sink in sinks) >= total)
        await asyncio.sleep(0.3)  # anything written twice would show up by now
    written = Counter(
        (snapshot.terminal_id, snapshot.observed_at)
        for sink in sinks
        for snapshot in sink.snapshots
    )
    assert len(written) == total
    assert set(written.values()) == {1}
    assert all(sink.snapshots for sink in sinks), [len(sink.snapshots) for sink in sinks]


async def test_a_flood_of_bad_messages_never_stalls_the_good_ones(
    mosquitto: MosquittoServer,
) -> None:
    sink = MemorySink()
    # (unknown_topic cannot arrive: the subscriptions only match terminal topics)
    bad = [message for case, message in BAD_MESSAGES.items() if case != "unknown_topic"] * 30
    async with running(
        config(mosquitto.url, "flood-test", max_in_flight=5), [sink], "flood"
    ) as app:
        await publish(mosquitto.url, [*bad, *(good(seq) for seq in range(50))])
        await until(lambda: len(sink.snapshots) == 50)
        await until(lambda: app.stats.acked == len(bad) + 50)
        status, body = await asyncio.to_thread(
            http_request, "GET", f"http://{app.metrics_address}/metrics"
        )
    assert sum(app.stats.refused.values()) == len(bad)
    assert app.stats.refused["card_data"] == 30
    assert status == 200
    assert b'posfleet_ingest_messages_refused_total{reason="binary"} 30.0' in body
    assert b"posfleet_ingest_messages_acked_total 230.0" in body


async def test_a_message_whose_write_failed_is_delivered_again(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory()
    sink = FailingSink(failures=1)
    async with running(config(broker.url, "redelivery-test"), [sink], "redelivery") as app:
        await publish(broker.url, [good(seq) for seq in range(5)])
        await until(lambda: len(sink.snapshots) == 5)
    written = [s.printer.receipt_lines_printed_total for s in sink.snapshots if s.printer]
    assert sorted(line or 0 for line in written) == [0, 1, 2, 3, 4]
    assert app.stats.sink_failures == 1
    assert app.stats.reconnects >= 1


async def test_ingest_reconnects_after_the_broker_restarts(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory()
    sink = MemorySink()
    async with running(config(broker.url, "restart-test"), [sink], "restart") as app:
        await asyncio.to_thread(broker.restart)
        await until(lambda: app.stats.reconnects >= 1 and app.consumer.subscribed.is_set())
        await publish(broker.url, [good(seq) for seq in range(5)])
        await until(lambda: len(sink.snapshots) == 5)
        assert app.stats.connected
    assert app.stats.acked == 5
