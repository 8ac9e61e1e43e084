"""Ingest's receive loop: batches from the broker connection through the pipeline,
acknowledged after the write, and reconnects with backoff.

Messages are processed in the batches in which they arrive (everything received since the
last batch, at most ``max_batch``), so the per-message path has no task, lock or log line;
the batch's PUBACKs go out in one write. The broker's receive maximum (``max_in_flight``)
bounds what waits. When an output fails, the batch's written messages are acknowledged,
the failed ones are not, and ingest drops the connection and reconnects after a pause: the
persistent session makes the broker send the unacknowledged ones again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from typing import Protocol

from posfleet.collector.clock import Clock, SystemClock
from posfleet.exporters.ingest.connection import ConnectionFailed
from posfleet.exporters.ingest.metrics import IngestStats
from posfleet.topics import KINDS, subscription

logger = logging.getLogger(__name__)

MAX_BATCH = 100
"""Messages per batch: PUBACKs go out one write per batch, and a batch's payloads and parsed
snapshots stay in the CPU cache (batches of 500 measured ~10% more CPU per message)."""
SHUTDOWN_GRACE_SECONDS = 5.0


class Connection(Protocol):
    """One broker connection as the consumer uses it (:class:`.connection.BrokerConnection`)."""

    messages: list[tuple[str, bytes]]
    lost: bool

    async def open(self) -> None: ...

    def take(self, limit: int) -> tuple[list[tuple[str, bytes]], list[int | None]]: ...

    def acknowledge(self, mids: Sequence[int]) -> int: ...

    async def close(self) -> None: ...


ConnectionFactory = Callable[[Sequence[str], Callable[[], None]], Connection]
"""Makes an unopened connection from the topics and a callback for "something arrived"."""


class BatchProcessor(Protocol):
    """What the consumer hands batches to (:class:`~.pipeline.IngestPipeline`)."""

    async def process(self, batch: Sequence[tuple[str, bytes]]) -> list[bool]:
        """Per ``(topic, payload)``, whether to acknowledge it."""
        ...


class OutputFailing(Exception):
    """An output refused messages: reconnect so the broker sends them again."""


def shared_subscriptions(share_group: str, prefixes: Sequence[str]) -> list[str]:
    """``$share/<group>/<prefix>/+/+/+/status`` and ``.../transactions`` per prefix."""
    return [
        f"$share/{share_group}/{subscription(prefix, kind)}"
        for prefix in prefixes
        for kind in KINDS
    ]


class IngestConsumer:
    """Runs until cancelled: connect, subscribe, process, acknowledge, reconnect."""

    def __init__(
        self,
        pipeline: BatchProcessor,
        connect: ConnectionFactory,
        topics: Sequence[str],
        stats: IngestStats,
        *,
        max_batch: int = MAX_BATCH,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        reconnect_max_seconds: float = 30.0,
    ) -> None:
        self._pipeline = pipeline
        self._connect = connect
        self.topics = list(topics)
        self._stats = stats
        self._max_batch = max_batch
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._reconnect_max = reconnect_max_seconds
        self._wake = asyncio.Event()
        self.subscribed = asyncio.Event()
        """Set while subscribed."""

    async def run(self) -> None:
        delay = 1.0
        while True:
            connection = self._connect(self.topics, self._wake.set)
            try:
                await connection.open()
                self._stats.connected = True
                self.subscribed.set()
                logger.info("ingest subscribed: %s", ", ".join(self.topics))
                delay = 1.0
                await self._process(connection)
                problem = "the broker connection was lost"
            except ConnectionFailed as exc:
                problem = f"cannot connect: {exc}"
            except OutputFailing:
                problem = (
                    "an output is failing; reconnecting to receive the unacknowledged "
                    "messages again"
                )
            finally:
                self._stats.connected = False
                self.subscribed.clear()
                self._stats.in_flight = 0
                await connection.close()
            self._stats.reconnects += 1
            logger.warning("ingest: %s; reconnecting in %.0f s", problem, delay)
            await self._clock.sleep(delay * self._rng.uniform(0.8, 1.2))
            delay = min(delay * 2, self._reconnect_max)

    async def _process(self, connection: Connection) -> None:
        """Until the connection is lost (returns) or an output fails (raises)."""
        wake = self._wake
        stats = self._stats
        while not connection.lost:
            if not connection.messages:
                wake.clear()
                await wake.wait()
                continue
            messages, mids = connection.take(self._max_batch)
            stats.in_flight = len(messages) + len(connection.messages)
            processing = asyncio.ensure_future(self._pipeline.process(messages))
            try:
                acks = await asyncio.shield(processing)
            except asyncio.CancelledError:
                # Stopping: let the batch in hand finish, so that what the outputs wrote is
                # acknowledged rather than sent again after a restart.
                await asyncio.wait({processing}, timeout=SHUTDOWN_GRACE_SECONDS)
                if (
                    processing.done()
                    and not processing.cancelled()
                    and processing.exception() is None
                ):
                    self._acknowledge(connection, mids, processing.result())
                else:
                    processing.cancel()
                raise
            self._acknowledge(connection, mids, acks)
            if not all(acks):
                raise OutputFailing

    def _acknowledge(
        self, connection: Connection, mids: Sequence[int | None], acks: Sequence[bool]
    ) -> None:
        written = [mid for mid, ack in zip(mids, acks, strict=True) if ack and mid is not None]
        self._stats.acked += connection.acknowledge(written)
        self._stats.in_flight = len(connection.messages)
