"""The status store output: a Sink that keeps each terminal's latest state and hourly
history in SQL for the web app.

Snapshots and transactions are folded in memory (the latest snapshot per terminal, counts
per terminal and hour), so a batch is at most one row per terminal plus its hour buckets,
however many messages arrived. Every ``flush_interval_seconds`` the batch goes to the
output's disk buffer (bounded, survives ``kill -9``); a writer task applies buffered batches
to the database, one transaction each, and acks them only after the commit. Delivery is
at-least-once: after a crash one batch's attempt counts may be added twice. Time online is
kept as bitmaps of minutes, OR-ed together, so neither a replay nor several ingest copies
sharing one terminal's snapshots count a minute twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from prometheus_client.registry import Collector

from posfleet.config.models import AlertingSettings, PosfleetConfig
from posfleet.exporters.buffer import Batch, BufferStats, DiskBuffer
from posfleet.exporters.buffered_output import BufferedOutput
from posfleet.exporters.derived.paper import PaperForecaster
from posfleet.exporters.derived.reversals import RESULT_STATES
from posfleet.exporters.status_store.config import StatusStoreSettings
from posfleet.exporters.status_store.metrics import StatusStoreMetrics, StatusStoreStats
from posfleet.exporters.status_store.schema import CAUSE_COLUMNS, HOURLY_COUNTS, HOURLY_MASKS
from posfleet.exporters.status_store.store import StatusStore, hour_of, minute_mask
from posfleet.exporters.status_store.summary import summarise
from posfleet.payments.classification import Classifier, TableError, default_classifier
from posfleet.payments.groups import CauseGroup
from posfleet.telemetry import StatusSnapshot, TransactionEvent

logger = logging.getLogger(__name__)

OUTPUT_NAME: Final = "status_store"
RETRY_MIN_SECONDS: Final = 0.5
RETRY_MAX_SECONDS: Final = 30.0
BATCHES_PER_TRANSACTION: Final = 20
PURGE_EVERY: Final = timedelta(hours=1)


@dataclass(slots=True)
class _Latest:
    snapshot: StatusSnapshot
    received_at: datetime


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _hour_spans(start: float, end: float) -> list[tuple[datetime, float, float]]:
    """(hour, start, end) of the interval (start, end] split at hour boundaries."""
    spans: list[tuple[datetime, float, float]] = []
    cursor = start
    while cursor < end:
        hour = hour_of(datetime.fromtimestamp(cursor, UTC))
        boundary = min(end, (hour + timedelta(hours=1)).timestamp())
        spans.append((hour, cursor, boundary))
        cursor = boundary
    return spans


class StatusStoreSink:
    """Folds snapshots and transactions into status store batches; see the module doc."""

    def __init__(
        self,
        settings: StatusStoreSettings,
        buffer_directory: Path,
        *,
        buffer_max_bytes: int,
        policy: AlertingSettings | None = None,
        regions: Mapping[str, str] | None = None,
        classify: Callable[[TransactionEvent], CauseGroup] | None = None,
        store: StatusStore | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        close_timeout_seconds: float = 5.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.stats = StatusStoreStats()
        self._policy = policy or AlertingSettings()
        self._regions = dict(regions or {})
        self._classify = classify or default_classifier().classify
        self._store = store
        self._clock = clock
        self._sleep = sleep
        self._forecaster = PaperForecaster(self._policy)
        self._latest: dict[str, _Latest] = {}
        self._hourly: dict[tuple[str, datetime], dict[str, Any]] = {}
        self._last_observed: dict[str, float] = {}
        self._purged_at: datetime | None = None
        self._output = BufferedOutput(
            OUTPUT_NAME,
            Path(buffer_directory),
            max_bytes=buffer_max_bytes,
            close_timeout_seconds=close_timeout_seconds,
            log=logger,
            label="status store output",
            write_pending=self._write_pending,
            flush_due=self._flush_due,
            forward=self._write_loop,
            forward_task="write",
            release=self._dispose_store,
            on_open=self._open_store,
        )

    @classmethod
    def from_config(cls, config: PosfleetConfig) -> StatusStoreSink:
        """The sink for ``config.status_store``, buffered in ``<buffer.directory>/status_store``."""
        settings = config.status_store
        if settings is None:
            raise ValueError("the configuration has no 'status_store' section")
        try:
            classifier = Classifier.from_settings(
                config.payments, ((m.id, m.acquirer) for m in config.merchants)
            )
        except TableError as exc:
            logger.error("%s; filing causes with the generic ISO 8583 table instead", exc)
            classifier = default_classifier()
        return cls(
            settings,
            Path(config.buffer.directory) / OUTPUT_NAME,
            buffer_max_bytes=config.buffer.max_bytes,
            policy=config.alerting,
            regions={store.id: store.region for store in config.stores},
            classify=classifier.classify,
        )

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the buffer and the database (raising if either cannot be opened)."""
        await self._output.start()

    def _open_store(self, buffer: DiskBuffer) -> None:
        """Runs in the buffer's opening thread: connecting to the database blocks too."""
        if self._store is None:
            self._store = StatusStore.open(
                self.settings.database, self.settings.busy_timeout_seconds
            )

    async def _dispose_store(self) -> None:
        if self._store is not None:
            await asyncio.to_thread(self._store.dispose)

    async def flush(self) -> None:
        """Move what is folded in memory to the disk buffer now."""
        await self._output.flush()

    async def wait_written(self) -> None:
        """Flush, then wait until the database has everything (wrap in a timeout)."""
        await self.flush()
        await self._output.wait_idle()

    async def close(self) -> None:
        await self._output.close()

    # --- Sink ------------------------------------------------------------------------------

    async def publish(self, snapshot: StatusSnapshot) -> None:
        self._output.ensure_started()
        terminal = snapshot.terminal_id
        kept = self._latest.get(terminal)
        if kept is None or kept.snapshot.observed_at <= snapshot.observed_at:
            self._latest[terminal] = _Latest(snapshot, self._clock())
        self._forecaster.observe(snapshot)
        at = snapshot.observed_at.timestamp()
        previous = self._last_observed.get(terminal)
        if previous is not None and at <= previous:
            return
        self._last_observed[terminal] = at
        if previous is None:
            return
        credit = min(at - previous, self.settings.max_gap_seconds)
        ready = summarise(snapshot, self._policy).ready
        for hour, start, end in _hour_spans(at - credit, at):
            counts = self._bucket(terminal, hour, snapshot.merchant_id, snapshot.store_id,
                                  snapshot.region)
            mask = minute_mask(start, end, hour.timestamp())
            counts["online_minutes"] |= mask
            if ready:
                counts["ready_minutes"] |= mask

    async def publish_transaction(self, event: TransactionEvent) -> None:
        self._output.ensure_started()
        if event.reversal_state in RESULT_STATES:
            return
        counts = self._bucket(
            event.terminal_id,
            hour_of(event.occurred_at.astimezone(UTC)),
            event.merchant_id,
            event.store_id,
            None,
        )
        counts["attempts"] += 1
        counts[CAUSE_COLUMNS[self._classify(event)]] += 1

    def _bucket(
        self, terminal: str, hour: datetime, merchant: str, store: str, region: str | None
    ) -> dict[str, Any]:
        key = (terminal, hour)
        counts = self._hourly.get(key)
        if counts is None:
            counts = {
                "terminal_id": terminal,
                "hour": hour,
                "merchant_id": merchant,
                "store_id": store,
                "region": region or self._regions.get(store, ""),
                "online_minutes": 0,
                "ready_minutes": 0,
                "attempts": 0,
                **dict.fromkeys(CAUSE_COLUMNS.values(), 0),
            }
            self._hourly[key] = counts
        return counts

    # --- batches ---------------------------------------------------------------------------

    def _take_batch(self) -> bytes | None:
        if not self._latest and not self._hourly:
            return None
        latest, self._latest = self._latest, {}
        hourly, self._hourly = self._hourly, {}
        newest = max(
            (item.snapshot.observed_at.timestamp() for item in latest.values()), default=0.0
        )
        forecasts = (
            {f.terminal: f.seconds_to_empty for f in self._forecaster.forecasts(newest)}
            if latest
            else {}
        )
        terminals = []
        for terminal, item in latest.items():
            snapshot = item.snapshot
            seconds = forecasts.get(terminal)
            summary = summarise(snapshot, self._policy, seconds)
            terminals.append(
                {
                    "terminal_id": terminal,
                    "merchant_id": snapshot.merchant_id,
                    "store_id": snapshot.store_id,
                    "region": snapshot.region or self._regions.get(snapshot.store_id, ""),
                    "model": snapshot.model,
                    "vendor": snapshot.vendor,
                    "serial": snapshot.serial,
                    "status": summary.status,
                    "ready": int(summary.ready),
                    "issues": json.dumps([issue.as_json() for issue in summary.issues]),
                    "components": json.dumps(summary.components, sort_keys=True),
                    "paper_seconds_to_empty": seconds,
                    "network_quality": summary.network_quality,
                    "observed_at": _stamp(snapshot.observed_at),
                    "received_at": _stamp(item.received_at),
                }
            )
        rows = [{**counts, "hour": _stamp(counts["hour"])} for counts in hourly.values()]
        return json.dumps({"terminals": terminals, "hourly": rows}).encode()

    async def _write_pending(self) -> None:
        """The write step of a flush; the output runs it under its flush lock."""
        record = self._take_batch()
        if record is not None:
            await self._output.append([record])

    async def _flush_due(self) -> None:
        await self._sleep(self.settings.flush_interval_seconds)

    async def _write_loop(self, buffer: DiskBuffer) -> None:
        wait = RETRY_MIN_SECONDS
        while True:
            try:
                written = await asyncio.to_thread(self._write_next, buffer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.write_failures += 1
                logger.warning("status store output: database write failed, retrying: %s", exc)
                await self._sleep(wait)
                wait = min(wait * 2, RETRY_MAX_SECONDS)
                continue
            wait = RETRY_MIN_SECONDS
            await self._purge_when_due()
            if not written:
                self._output.watch_for_appends()
                if (await asyncio.to_thread(buffer.stats)).pending_records == 0:
                    await self._output.idle_until_appended()

    async def _purge_when_due(self) -> None:
        now = self._clock()
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        self._purged_at = now
        store = self._store
        assert store is not None
        before = hour_of(now) - timedelta(days=self.settings.history_days)
        deleted = await asyncio.to_thread(store.purge, before)
        if deleted:
            logger.info("status store output: deleted %d hourly rows before %s", deleted, before)

    def _write_next(self, buffer: DiskBuffer) -> bool:
        """Apply the next buffered batches in one transaction; False when none is left."""
        store = self._store
        assert store is not None
        batch: Batch = buffer.read(BATCHES_PER_TRANSACTION)
        if not batch.records:
            return False
        terminals: dict[str, dict[str, Any]] = {}
        hourly: dict[tuple[str, str], dict[str, Any]] = {}
        for record in batch.records:
            try:
                data = json.loads(record)
            except ValueError:
                logger.error("status store output: skipping an unreadable buffered batch")
                continue
            for row in data["terminals"]:
                kept = terminals.get(row["terminal_id"])
                if kept is None or kept["observed_at"] <= row["observed_at"]:
                    terminals[row["terminal_id"]] = row
            for row in data["hourly"]:
                key = (row["terminal_id"], row["hour"])
                kept_row = hourly.get(key)
                if kept_row is None:
                    hourly[key] = dict(row)
                    continue
                for name in HOURLY_COUNTS:
                    kept_row[name] += row[name]
                for name in HOURLY_MASKS:
                    kept_row[name] |= row[name]
        store.write(
            [_dated(row, ("observed_at", "received_at")) for row in terminals.values()],
            [_dated(row, ("hour",)) for row in hourly.values()],
        )
        buffer.ack(batch)
        self.stats.terminal_rows += len(terminals)
        self.stats.hourly_rows += len(hourly)
        return True

    # --- metrics ---------------------------------------------------------------------------

    def buffer_stats(self) -> BufferStats | None:
        return self._output.stats()

    def metrics(self) -> Collector:
        return StatusStoreMetrics(self.stats, self.buffer_stats)


def _dated(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {**row, **{name: datetime.fromisoformat(row[name]) for name in names}}
