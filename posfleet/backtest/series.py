"""Turn history into the series the exporters would have served, with their timestamps.

The replay stands in for central ingest: snapshots go into ingest's
:class:`~posfleet.exporters.ingest.latest.LatestSnapshots` (health from freshness), and
snapshots and transactions into the derived metrics
(:class:`~posfleet.exporters.derived.metrics.DerivedMetrics`: paper time to empty, store
open, policy thresholds, baselines, transactions, reversals), on a clock that follows the
history. At every step (a "scrape") the terminal samples come from the Prometheus
exporter's own sample code and the derived ones from the derived collector, filtered to the
metric names the rules read, and are written as OpenMetrics lines with the step's timestamp.

Records may arrive slightly out of order (the simulator writes a slice of snapshots, then
that slice's transactions); a reorder window holds them back before they are applied in
time order. A record older than what the replay has already passed is reported as unsorted
and skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from posfleet.backtest.history import HistoryStats, Record
from posfleet.backtest.terminal_reads import Read, info_labels, terminal_plan
from posfleet.config.models import PosfleetConfig
from posfleet.exporters.catalogue import IDENTITY_LABELS, TERMINAL_METRICS
from posfleet.exporters.derived.metrics import DerivedMetrics
from posfleet.exporters.ingest.latest import LatestSnapshots
from posfleet.exporters.prometheus import samples as exporter_samples
from posfleet.exporters.prometheus.render import escape_label_value


class ReplayClock:
    """The collector's clock protocol, set by the replay to the history's time."""

    def __init__(self, at: float = 0.0) -> None:
        self.at = at

    def monotonic(self) -> float:
        return self.at

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - never awaited
        raise RuntimeError("the replay clock does not sleep")


def _run_now(coroutine: Any) -> None:
    """Run a coroutine that never suspends (the derived sink's publish) without a loop."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("a sink coroutine suspended during the replay")


@dataclass(slots=True)
class _TerminalSeries:
    """A terminal's series prefixes (metric name, labels, space), built once."""

    prefixes: list[str]
    """Per slot of the plan's scalar reads."""
    others: dict[tuple[int, tuple[str, ...]], str]
    """Per (metric index, own label values), for the other reads and the info metric."""


def _label_text(labels: Iterable[tuple[str, str]]) -> str:
    pairs = ",".join(f'{name}="{escape_label_value(value)}"' for name, value in sorted(labels))
    return "{" + pairs + "}" if pairs else ""


class SeriesWriter:
    """Replays records and writes OpenMetrics lines, one call of ``emit`` per step.

    ``emit(step_time, text)`` receives each step's lines (without ``# EOF``).
    """

    def __init__(
        self,
        config: PosfleetConfig,
        names: frozenset[str],
        emit: Callable[[int, str], None],
        stats: HistoryStats,
        *,
        step_seconds: int = 60,
        stale_after_seconds: float = 300.0,
        reorder_seconds: float = 1800.0,
        gap_seconds: float | None = None,
        dense: frozenset[str] | None = None,
        heartbeat_seconds: int = 240,
    ) -> None:
        self.step = step_seconds
        self.clock = ReplayClock()
        self.latest = LatestSnapshots(stale_after_seconds, self.clock)
        self.derived = DerivedMetrics(config, clock=self.clock)
        self._names = names
        self._emit = emit
        self._stats = stats
        self._reorder = reorder_seconds
        self._gap = gap_seconds if gap_seconds is not None else stale_after_seconds
        self._buckets: dict[int, list[Record]] = {}
        self._next_bucket: int | None = None
        """Index of the next step to emit (None before the first emission)."""
        self._newest = -math.inf
        self._last_status: dict[str, float] = {}
        self._prefixes: dict[Any, str] = {}
        self._dense = names if dense is None else dense
        self._plan = terminal_plan(names, self._dense)
        self._info_dense = TERMINAL_METRICS[exporter_samples._INFO_INDEX].name in self._dense
        self._terminals: dict[tuple[str, ...], _TerminalSeries] = {}
        self._heartbeat = heartbeat_seconds
        self._last: dict[str, tuple[float, int]] = {}
        """Instant-only series: prefix -> (last value written, when)."""
        self._seen: dict[str, int] = {}
        self.first_step: int | None = None
        self.last_step: int | None = None
        self.terminal_seconds = 0.0
        """Sum over steps of terminals known times the step: terminal-seconds observed."""

    # --- input ------------------------------------------------------------------------------

    def add(self, record: Record) -> None:
        bucket = math.ceil(record.at / self.step)
        if self._next_bucket is not None and bucket < self._next_bucket:
            passed = datetime.fromtimestamp(self._next_bucket * self.step - self.step, UTC)
            self._stats.add(
                record.line,
                "unsorted",
                f"{record.terminal_id}: time "
                f"{datetime.fromtimestamp(record.at, UTC):%Y-%m-%dT%H:%M:%SZ} is before "
                f"{passed:%Y-%m-%dT%H:%M:%SZ}, which the replay has passed "
                f"(records may be at most {self._reorder:g} s out of order)",
            )
            return
        if record.status is not None:
            self._stats.statuses += 1
        else:
            self._stats.transactions += 1
        self._buckets.setdefault(bucket, []).append(record)
        if record.at > self._newest:
            self._newest = record.at
            ready = math.ceil((self._newest - self._reorder) / self.step)
            self._flush(ready)

    def finish(self) -> None:
        """Emit every step up to the newest record."""
        if self._buckets:
            self._flush(max(self._buckets) + 1)

    # --- stepping ---------------------------------------------------------------------------

    def _flush(self, until: int) -> None:
        """Emit steps before ``until`` (exclusive)."""
        if not self._buckets and self._next_bucket is None:
            return
        if self._next_bucket is None:
            self._next_bucket = min(self._buckets)
            self.first_step = self._next_bucket
        while self._next_bucket < until:
            bucket = self._next_bucket
            for record in sorted(self._buckets.pop(bucket, ()), key=lambda r: (r.at, r.line)):
                self._apply(record)
            self._sample(bucket)
            self.last_step = bucket
            self._next_bucket = bucket + 1

    def _apply(self, record: Record) -> None:
        self.clock.at = record.at
        if record.status is not None:
            snapshot = record.status
            previous = self._last_status.get(snapshot.terminal_id)
            if previous is not None and record.at - previous > self._gap:
                self._stats.add(
                    record.line,
                    "gap",
                    f"{snapshot.terminal_id}: no snapshot for {record.at - previous:.0f} s "
                    "before this one",
                    skipped=False,
                )
            self._last_status[snapshot.terminal_id] = record.at
            self.latest.record(snapshot)
            _run_now(self.derived.sink.publish(snapshot))
        elif record.transaction is not None:
            _run_now(self.derived.sink.publish_transaction(record.transaction))

    def _prefix(self, key: Any, name: str, labels: Iterable[tuple[str, str]]) -> str:
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = f"{name}{_label_text(labels)} "
            self._prefixes[key] = prefix
        return prefix

    def _terminal_prefix(self, identity: tuple[str, ...], index: int, own: tuple[str, ...]) -> str:
        spec = TERMINAL_METRICS[index]
        labels = [*zip(IDENTITY_LABELS, identity, strict=True)]
        labels += zip(spec.own_labels, own, strict=True)
        return f"{spec.name}{_label_text(labels)} "

    def _terminal_series(self, identity: tuple[str, ...]) -> _TerminalSeries:
        series = self._terminals.get(identity)
        if series is None:
            prefixes = [self._terminal_prefix(identity, *slot) for slot in self._plan.slots]
            series = self._terminals[identity] = _TerminalSeries(prefixes, {})
        return series

    def _sample(self, bucket: int) -> None:
        """One scrape's lines. Series read through range selectors get every sample;
        instant-only series get a sample when their value changes and at least every
        ``heartbeat_seconds`` (below Prometheus' 5 min lookback, so every instant query sees
        the value a scrape would have stored). An instant-only series that disappears gets
        one NaN sample, standing in for the staleness marker a scrape writes, so comparisons
        stop matching at once rather than 5 minutes later."""
        at = bucket * self.step
        self.clock.at = float(at)
        stamp = f" {at}\n"
        lines: list[str] = []
        append = lines.append
        last = self._last
        seen = self._seen
        oldest = at - self._heartbeat
        prefixes = self._prefixes
        plan = self._plan
        terminals = 0

        def write(prefix: str, value: float) -> None:
            # Only instant-only series are tracked: a dense one never has a NaN to write.
            seen[prefix] = bucket
            previous = last.get(prefix)
            if (
                previous is None
                or previous[1] <= oldest
                or not (previous[0] == value or (value != value and previous[0] != previous[0]))
            ):
                append(prefix + repr(value) + stamp)
                last[prefix] = (value, at)

        def write_other(
            series: _TerminalSeries,
            identity: tuple[str, ...],
            dense: bool,
            samples: Iterable[exporter_samples.TerminalSample],
        ) -> None:
            for index, own_values, value in samples:
                key = (index, own_values)
                prefix = series.others.get(key)
                if prefix is None:
                    prefix = series.others[key] = self._terminal_prefix(identity, *key)
                if dense:
                    append(prefix + repr(value) + stamp)
                else:
                    write(prefix, value)

        def emit_other(
            read: Read, value: Any, series: _TerminalSeries, identity: tuple[str, ...]
        ) -> None:
            out: list[exporter_samples.TerminalSample] = []
            exporter_samples._emit(read.read, value, out)
            write_other(series, identity, read.dense, out)

        for view in self.latest.terminals():
            terminals += 1
            identity = exporter_samples.identity_label_values(view)
            series = self._terminals.get(identity) or self._terminal_series(identity)
            series_prefixes = series.prefixes
            if plan.info:
                info = (exporter_samples._INFO_INDEX, info_labels(view), 1.0)
                write_other(series, identity, self._info_dense, (info,))
            for read in plan.view_reads:
                value = getattr(view, read.field)
                if value is None:
                    continue
                if read.convert is None:
                    emit_other(read, value, series, identity)
                elif read.dense:
                    append(series_prefixes[read.slot] + repr(read.convert(value)) + stamp)
                else:
                    write(series_prefixes[read.slot], read.convert(value))
            snapshot = view.snapshot
            if snapshot is None:
                continue
            for component, reads in plan.snapshot_reads:
                part = snapshot if component is None else getattr(snapshot, component)
                if part is None:
                    continue
                for read in reads:
                    value = getattr(part, read.field)
                    if value is None:
                        continue
                    if read.convert is None:
                        emit_other(read, value, series, identity)
                    elif read.dense:
                        append(series_prefixes[read.slot] + repr(read.convert(value)) + stamp)
                    else:
                        write(series_prefixes[read.slot], read.convert(value))
        self.terminal_seconds += terminals * self.step
        for family in self.derived.collect():
            for sample in family.samples:
                if sample.name not in self._names:
                    continue
                pairs = tuple(sorted(sample.labels.items()))
                derived_key = (sample.name, pairs)
                prefix = prefixes.get(derived_key) or self._prefix(
                    derived_key, sample.name, pairs
                )
                if sample.name in self._dense:
                    append(prefix + repr(float(sample.value)) + stamp)
                else:
                    write(prefix, float(sample.value))
        gone = [prefix for prefix, when in seen.items() if when != bucket]
        for prefix in gone:
            del seen[prefix]
            if last.pop(prefix, None) is not None:
                append(prefix + "NaN" + stamp)
        self._emit(at, "".join(lines))
