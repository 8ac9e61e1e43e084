"""One batch of MQTT messages through ingest: check, write to every output, decide acks.

A refused message is counted, logged (at most once per terminal per interval) and
acknowledged: it will never become valid, and leaving it unacknowledged would use up the
broker's in-flight window until ingest stalls. A good message is acknowledged only when
every output has written or buffered it; if one raises, the message is not acknowledged and
the broker sends it again after ingest reconnects.

This runs for every message (tens of thousands a second): no task, log line or clock
reading per message; outputs are called one message after the other, as the
:class:`~posfleet.collector.sink.Sink` contract asks them to buffer and return quickly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from posfleet.collector.clock import Clock, SystemClock
from posfleet.collector.ratelimit import LogRateLimiter
from posfleet.collector.sink import Sink
from posfleet.exporters.ingest.checks import MessageChecker, Refused
from posfleet.exporters.ingest.latest import LatestSnapshots
from posfleet.exporters.ingest.metrics import IngestStats
from posfleet.telemetry import StatusSnapshot, TransactionEvent

logger = logging.getLogger(__name__)


class IngestPipeline:
    """Checks messages and hands the good ones to ``sinks`` (every one must succeed)."""

    def __init__(
        self,
        checker: MessageChecker,
        sinks: Sequence[Sink],
        latest: LatestSnapshots,
        stats: IngestStats,
        *,
        clock: Clock | None = None,
        log_interval_seconds: float = 60.0,
    ) -> None:
        self._checker = checker
        self._sinks = tuple(sinks)
        self.latest = latest
        self.stats = stats
        self._clock = clock or SystemClock()
        self._log_limiter = LogRateLimiter(log_interval_seconds, self._clock)

    async def process(self, batch: Sequence[tuple[str, bytes]]) -> list[bool]:
        """Handle ``(topic, payload)`` messages; returns, per message, whether to ack it."""
        stats = self.stats
        stats.received += len(batch)
        acks = [True] * len(batch)
        check = self._checker.check
        good: list[tuple[int, StatusSnapshot | TransactionEvent]] = []
        for index, (topic, payload) in enumerate(batch):
            checked = check(topic, payload)
            if isinstance(checked, Refused):
                self._refused(topic, checked)
            else:
                good.append((index, checked))
        if good:
            await self._write(good, acks)
        return acks

    async def _write(
        self, good: Sequence[tuple[int, StatusSnapshot | TransactionEvent]], acks: list[bool]
    ) -> None:
        stats = self.stats
        sinks = self._sinks
        statuses: list[StatusSnapshot] = []
        transactions = 0
        started = self._clock.monotonic()
        for index, message in good:
            try:
                if isinstance(message, StatusSnapshot):
                    for sink in sinks:
                        await sink.publish(message)
                    statuses.append(message)
                else:
                    for sink in sinks:
                        await sink.publish_transaction(message)
                    transactions += 1
            except Exception as exc:
                acks[index] = False
                self._write_failed(message, exc)
        stats.sink_latency.observe(self._clock.monotonic() - started)
        if statuses:
            # Only written snapshots count as the terminals' latest.
            self.latest.record_all(statuses)
            stats.accepted["status"] += len(statuses)
        if transactions:
            stats.accepted["transactions"] += transactions

    def _refused(self, topic: str, refused: Refused) -> None:
        self.stats.refused[refused.reason] += 1
        if self._log_limiter.allow(refused.log_key):
            logger.warning("refused message on %s: %s: %s", topic, refused.reason, refused.detail)

    def _write_failed(self, message: StatusSnapshot | TransactionEvent, exc: Exception) -> None:
        self.stats.sink_failures += 1
        if self._log_limiter.allow(("sink", type(exc).__name__)):
            logger.error(
                "writing %s of %s failed (not acknowledged; the broker sends it again): %r",
                "status" if isinstance(message, StatusSnapshot) else "transaction",
                message.terminal_id,
                exc,
            )

    async def close(self) -> None:
        for sink in self._sinks:
            try:
                await sink.close()
            except Exception:
                logger.exception("closing %s failed", type(sink).__name__)
