"""The status store output's self-metrics: batches written, failures, buffer depth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from posfleet.exporters.buffer import BufferStats
from posfleet.exporters.metric_spec import MetricSpec, MetricType

_C, _G = MetricType.COUNTER, MetricType.GAUGE

STATUS_STORE_METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(
        "posfleet_status_store_rows_written_total",
        _C,
        "Rows written to the status store, by table (terminals: latest state upserts; "
        "hourly: hour buckets added to).",
        labels=("table",),
        label_values=(("table", ("terminals", "hourly")),),
    ),
    MetricSpec(
        "posfleet_status_store_write_failures_total",
        _C,
        "Batches the status store database refused or did not answer in time (retried).",
    ),
    MetricSpec(
        "posfleet_status_store_buffered_batches",
        _G,
        "Batches in the status store output's disk buffer, not yet written to the database.",
    ),
    MetricSpec(
        "posfleet_status_store_dropped_batches_total",
        _C,
        "Batches dropped at the disk buffer's size cap or found corrupt.",
    ),
)


@dataclass
class StatusStoreStats:
    terminal_rows: int = 0
    hourly_rows: int = 0
    write_failures: int = 0


class StatusStoreMetrics(Collector):
    """``posfleet_status_store_*`` built fresh on every scrape."""

    def __init__(
        self, stats: StatusStoreStats, buffer_stats: Callable[[], BufferStats | None]
    ) -> None:
        self._stats = stats
        self._buffer_stats = buffer_stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        rows = CounterMetricFamily(
            "posfleet_status_store_rows_written",
            STATUS_STORE_METRICS[0].help,
            labels=["table"],
        )
        rows.add_metric(["terminals"], stats.terminal_rows)
        rows.add_metric(["hourly"], stats.hourly_rows)
        yield rows
        yield CounterMetricFamily(
            "posfleet_status_store_write_failures",
            STATUS_STORE_METRICS[1].help,
            value=stats.write_failures,
        )
        buffered = self._buffer_stats()
        yield GaugeMetricFamily(
            "posfleet_status_store_buffered_batches",
            STATUS_STORE_METRICS[2].help,
            value=buffered.pending_records if buffered else 0,
        )
        dropped = (
            buffered.dropped_records_total + buffered.corrupt_files_total if buffered else 0
        )
        yield CounterMetricFamily(
            "posfleet_status_store_dropped_batches",
            STATUS_STORE_METRICS[3].help,
            value=dropped,
        )
