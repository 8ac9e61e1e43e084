"""The InfluxDB output: a collector Sink that never loses a point it accepted.

Snapshots and transactions are turned into line protocol at once (cheap, on the event
loop), gathered into batches of up to ``batch_size`` points or ``flush_interval_seconds``,
and appended to the output's own disk buffer. A sender task reads the buffer in order,
writes to InfluxDB, and acks a batch only after the server accepted it; so an outage, a
restart or a ``kill -9`` costs nothing but time, as long as the buffer's size cap holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from prometheus_client.registry import Collector

from posfleet.config.models import InfluxDbSettings, PosfleetConfig
from posfleet.exporters.buffer import Batch, BufferStats, DiskBuffer
from posfleet.exporters.buffered_output import BufferedOutput
from posfleet.exporters.influxdb.delivery import Delivery
from posfleet.exporters.influxdb.lineprotocol import LineProtocolSerializer
from posfleet.exporters.influxdb.metrics import QUEUE_FULL, InfluxDbMetrics, InfluxDbStats
from posfleet.exporters.influxdb.transport import Transport, transport_for
from posfleet.payments.classification import Classifier, TableError, default_classifier
from posfleet.telemetry import StatusSnapshot, TransactionEvent

logger = logging.getLogger(__name__)

OUTPUT_NAME: Final = "influxdb"
"""Name of this output: its buffer folder under ``buffer.directory`` and metric label."""
QUEUED_BATCHES_LIMIT: Final = 20
"""Batches kept in memory in front of the disk buffer before the oldest points are dropped."""
SENDER_ERROR_PAUSE_SECONDS: Final = 1.0


def _classifier(config: PosfleetConfig) -> Classifier:
    try:
        return Classifier.from_settings(
            config.payments, ((merchant.id, merchant.acquirer) for merchant in config.merchants)
        )
    except TableError as exc:
        logger.error("%s; tagging causes with the generic ISO 8583 table instead", exc)
        return default_classifier()


def _report_earlier_batches(buffer: DiskBuffer) -> None:
    pending = buffer.stats().pending_records
    if pending:
        logger.info(
            "InfluxDB output: %d batches buffered by an earlier run will be sent first", pending
        )


class InfluxDbSink:
    """Writes snapshots and transaction events to InfluxDB through a disk buffer.

    ``start()`` opens the buffer and begins sending what an earlier run left in it (call it
    at start-up; ``publish`` starts the sink too). ``close()`` moves queued points to the
    buffer, gives the sender ``close_timeout_seconds`` to catch up, and stops; whatever is
    left is sent by the next run.
    """

    def __init__(
        self,
        settings: InfluxDbSettings,
        buffer_directory: Path,
        *,
        buffer_max_bytes: int,
        output_name: str = OUTPUT_NAME,
        transport: Transport | None = None,
        close_timeout_seconds: float = 5.0,
        classify: Callable[[TransactionEvent], str] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.output_name = output_name
        self.stats = InfluxDbStats()
        self._transport = transport or transport_for(settings)
        self._delivery = Delivery(
            self._transport,
            self.stats,
            retry_max_seconds=settings.retry_max_seconds,
            auth_retry_seconds=settings.auth_retry_seconds,
            sleep=sleep,
            rng=rng,
            clock=clock,
            monotonic=monotonic,
        )
        self._serializer = LineProtocolSerializer(classify)
        self._batch_size = settings.batch_size
        self._max_queued = settings.batch_size * QUEUED_BATCHES_LIMIT
        self._pending: list[str] = []
        self._batch_full = asyncio.Event()
        self._points_per_record = float(settings.batch_size)
        self._overflowing = False
        self._output = BufferedOutput(
            output_name,
            Path(buffer_directory),
            max_bytes=buffer_max_bytes,
            close_timeout_seconds=close_timeout_seconds,
            log=logger,
            label="InfluxDB output",
            write_pending=self._write_pending,
            flush_due=self._flush_due,
            forward=self._send_loop,
            release=self._transport.close,
            on_open=_report_earlier_batches,
            flush_error_pause_seconds=SENDER_ERROR_PAUSE_SECONDS,
        )

    @classmethod
    def from_config(cls, config: PosfleetConfig) -> InfluxDbSink:
        """The sink for ``config.influxdb``, buffered in ``<buffer.directory>/influxdb``."""
        if config.influxdb is None:
            raise ValueError("the configuration has no 'influxdb' section")
        return cls(
            config.influxdb,
            Path(config.buffer.directory) / OUTPUT_NAME,
            buffer_max_bytes=config.buffer.max_bytes,
            classify=_classifier(config).classify,
        )

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the buffer (raising if it cannot be opened) and start sending."""
        await self._output.start()

    async def flush(self) -> None:
        """Move every queued point to the disk buffer now (it is safe from crashes after)."""
        await self._output.flush()

    async def close(self) -> None:
        await self._output.close()

    # --- Sink ------------------------------------------------------------------------------

    async def publish(self, snapshot: StatusSnapshot) -> None:
        self._queue(self._serializer.snapshot_lines(snapshot))

    async def publish_transaction(self, event: TransactionEvent) -> None:
        self._queue([self._serializer.transaction_line(event)])

    def _queue(self, lines: list[str]) -> None:
        self._output.ensure_started()
        pending = self._pending
        pending.extend(lines)
        if len(pending) >= self._batch_size:
            self._batch_full.set()
            if len(pending) > self._max_queued:
                excess = len(pending) - self._max_queued
                del pending[:excess]
                self.stats.points_dropped[QUEUE_FULL] += excess
                if not self._overflowing:
                    self._overflowing = True
                    logger.error(
                        "InfluxDB output: more than %d points queued for the disk buffer, "
                        "which does not keep up; dropping the oldest (counted in "
                        'posfleet_influxdb_points_dropped_total{reason="queue_full"})',
                        self._max_queued,
                    )

    # --- metrics ---------------------------------------------------------------------------

    def buffer_stats(self) -> BufferStats | None:
        """The disk buffer's counts, or None before it is open."""
        return self._output.stats()

    def queued_points(self) -> int:
        """Points in memory, not yet in the disk buffer."""
        return len(self._pending)

    def metrics(self) -> Collector:
        """A prometheus_client collector of this output's ``posfleet_influxdb_*`` metrics."""
        return InfluxDbMetrics(
            self.stats,
            queued_points=self.queued_points,
            buffer_stats=self.buffer_stats,
        )

    # --- background tasks ------------------------------------------------------------------

    async def _write_pending(self) -> None:
        """The write step of a flush; the output runs it under its flush lock."""
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        self._overflowing = False
        size = self._batch_size
        records = [
            "\n".join(lines[start : start + size]).encode() for start in range(0, len(lines), size)
        ]
        # Not inside the try: a buffer that failed to open is not a full disk.
        await self._output.opened()
        try:
            await self._output.append(records)
        except OSError:
            # Disk full or gone: keep the points queued (bounded) and try again later.
            logger.exception("InfluxDB output: cannot append to the disk buffer")
            self._pending[:0] = lines

    async def _flush_due(self) -> None:
        """Until a batch is full or the flush interval has passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self._batch_full.wait(), timeout=self.settings.flush_interval_seconds
            )
        self._batch_full.clear()

    async def _send_loop(self, buffer: DiskBuffer) -> None:
        delivered: Batch | None = None
        while True:
            try:
                delivered = await self._send_next(buffer, delivered)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("InfluxDB output: sender failed; resuming")
                delivered = None
                await asyncio.sleep(SENDER_ERROR_PAUSE_SECONDS)

    def _ack_and_read(self, buffer: DiskBuffer, delivered: Batch | None) -> Batch:
        # One trip to a thread for both: the gap between two writes is the sender's cost.
        if delivered is not None:
            buffer.ack(delivered)
        # Small records (cut by the flush interval) are sent together, up to about a batch.
        records = max(1, round(self._batch_size / max(self._points_per_record, 1.0)))
        return buffer.read(records)

    async def _send_next(self, buffer: DiskBuffer, delivered: Batch | None) -> Batch | None:
        """Ack what was delivered, send the next batch; return it once delivered."""
        batch = await asyncio.to_thread(self._ack_and_read, buffer, delivered)
        if not batch.records:
            self._output.watch_for_appends()
            batch = await asyncio.to_thread(self._ack_and_read, buffer, None)
            if not batch.records:
                await self._output.idle_until_appended()
                return None
        body = b"\n".join(batch.records)
        points = body.count(b"\n") + 1
        self._points_per_record = points / len(batch.records)
        await self._delivery.deliver(body)
        return batch
