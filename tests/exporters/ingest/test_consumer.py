"""Ingest's receive loop with a fake connection: when messages are acknowledged, what a
failing output does to the connection, and what stopping does to the batch in hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import pytest

from posfleet.exporters.ingest.consumer import IngestConsumer
from posfleet.exporters.ingest.metrics import IngestStats
from tests.exporters.ingest.test_pipeline import FakeClock


class FakeConnection:
    """Stands in for the broker connection; records acknowledgements and its closing."""

    def __init__(self, on_arrival: Callable[[], None]) -> None:
        self._on_arrival = on_arrival
        self.messages: list[tuple[str, bytes]] = []
        self.mids: list[int | None] = []
        self.lost = False
        self.acked: list[int] = []
        self.closed = False

    async def open(self) -> None:
        pass

    def deliver(self, *payloads: bytes) -> None:
        for payload in payloads:
            self.messages.append(("topic", payload))
            self.mids.append(len(self.mids) + 1)
        self._on_arrival()

    def take(self, limit: int) -> tuple[list[tuple[str, bytes]], list[int | None]]:
        messages, mids = self.messages[:limit], self.mids[:limit]
        del self.messages[:limit], self.mids[:limit]
        return messages, mids

    def acknowledge(self, mids: Sequence[int]) -> int:
        self.acked.extend(mids)
        return len(mids)

    async def close(self) -> None:
        self.closed = True


class FakePipeline:
    """Writes ``b"fail"`` unsuccessfully, everything else successfully; ``gate`` holds
    every batch until it is set."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.batches: list[list[bytes]] = []

    async def process(self, batch: Sequence[tuple[str, bytes]]) -> list[bool]:
        self.batches.append([payload for _, payload in batch])
        await self.gate.wait()
        return [payload != b"fail" for _, payload in batch]


class Harness:
    task: asyncio.Task[None]

    def __init__(self) -> None:
        self.connections: list[FakeConnection] = []
        self.pipeline = FakePipeline()
        self.stats = IngestStats()
        self.clock = FakeClock()
        self.consumer = IngestConsumer(
            self.pipeline, self._connect, ["topic"], self.stats, clock=self.clock
        )

    def _connect(self, _topics: Sequence[str], on_arrival: Callable[[], None]) -> FakeConnection:
        self.connections.append(FakeConnection(on_arrival))
        return self.connections[-1]

    @property
    def connection(self) -> FakeConnection:
        return self.connections[-1]


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    harness = Harness()
    harness.task = asyncio.create_task(harness.consumer.run())
    await until(lambda: harness.consumer.subscribed.is_set())
    yield harness
    harness.task.cancel()
    await asyncio.gather(harness.task, return_exceptions=True)


async def test_messages_are_acknowledged_only_after_the_outputs_returned(
    harness: Harness,
) -> None:
    harness.pipeline.gate.clear()
    harness.connection.deliver(b"a", b"b", b"c")
    await until(lambda: harness.pipeline.batches == [[b"a", b"b", b"c"]])
    assert harness.connection.acked == []
    assert harness.stats.in_flight == 3
    harness.pipeline.gate.set()
    await until(lambda: harness.connection.acked == [1, 2, 3])
    assert harness.stats.acked == 3
    assert harness.stats.in_flight == 0


async def test_a_failed_write_is_not_acknowledged_and_the_connection_is_replaced(
    harness: Harness,
) -> None:
    first = harness.connection
    first.deliver(b"a", b"fail", b"c")
    await until(lambda: len(harness.connections) == 2 and harness.consumer.subscribed.is_set())
    assert first.acked == [1, 3]
    assert first.closed
    assert harness.stats.reconnects == 1
    assert 0.8 <= harness.clock.seconds - 1000.0 <= 1.2  # backoff before reconnecting
    harness.connection.deliver(b"again")
    await until(lambda: harness.connection.acked == [1])


async def test_stopping_mid_batch_finishes_and_acknowledges_the_batch(harness: Harness) -> None:
    harness.pipeline.gate.clear()
    harness.connection.deliver(b"a", b"b")
    await until(lambda: len(harness.pipeline.batches) == 1)
    harness.task.cancel()
    await asyncio.sleep(0)
    harness.pipeline.gate.set()
    await asyncio.gather(harness.task, return_exceptions=True)
    assert harness.connection.acked == [1, 2]
    assert harness.connection.closed
