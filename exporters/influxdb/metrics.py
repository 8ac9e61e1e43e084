"""The InfluxDB output's own metrics: queued, buffered, sent, retried, dropped, latency.

:class:`InfluxDbStats` is plain counting done by the sink and the delivery loop;
:class:`InfluxDbMetrics` is a prometheus_client custom collector that builds the
``posfleet_influxdb_*`` families from those counts and the disk buffer on every scrape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from posfleet.collector.metrics import Histogram
from posfleet.exporters.buffer import BufferStats
from posfleet.exporters.metric_spec import MetricSpec, MetricType

WRITE_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Reasons a point is dropped (label ``reason`` of posfleet_influxdb_points_dropped_total).
BAD_POINT: Final = "bad_point"
"""The server refused the point itself (parse error, field type conflict, out of retention)."""
TOO_LARGE: Final = "too_large"
"""A single point larger than the server accepts (413 even alone)."""
QUEUE_FULL: Final = "queue_full"
"""The in-memory queue in front of the disk buffer overflowed (the disk did not keep up)."""

# Reasons a write is retried (label ``reason`` of posfleet_influxdb_retries_total).
CONNECTION: Final = "connection"
SERVER_ERROR: Final = "server_error"
THROTTLED: Final = "throttled"
AUTH: Final = "auth"
CONFIG: Final = "config"
RETRY_REASONS: Final = (CONNECTION, SERVER_ERROR, THROTTLED, AUTH, CONFIG)
DROP_REASONS: Final = (BAD_POINT, TOO_LARGE, QUEUE_FULL)

_C, _G, _H = MetricType.COUNTER, MetricType.GAUGE, MetricType.HISTOGRAM

INFLUXDB_METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(
        "posfleet_influxdb_points_queued",
        _G,
        "Points in memory waiting to be written to the disk buffer as a batch.",
    ),
    MetricSpec(
        "posfleet_influxdb_buffered_batches",
        _G,
        "Batches in the disk buffer not yet accepted by InfluxDB.",
    ),
    MetricSpec(
        "posfleet_influxdb_buffered_bytes",
        _G,
        "Bytes in the disk buffer not yet accepted by InfluxDB.",
        unit="bytes",
    ),
    MetricSpec(
        "posfleet_influxdb_buffer_dropped_batches_total",
        _C,
        "Batches dropped unsent because the disk buffer reached its size cap.",
    ),
    MetricSpec(
        "posfleet_influxdb_buffer_dropped_bytes_total",
        _C,
        "Bytes dropped unsent because the disk buffer reached its size cap.",
        unit="bytes",
    ),
    MetricSpec(
        "posfleet_influxdb_buffer_corrupt_files_total",
        _C,
        "Buffer files found damaged and moved aside.",
    ),
    MetricSpec("posfleet_influxdb_points_sent_total", _C, "Points InfluxDB accepted."),
    MetricSpec(
        "posfleet_influxdb_batches_sent_total",
        _C,
        "Write requests InfluxDB accepted (fully, or all but the points it refused).",
    ),
    MetricSpec(
        "posfleet_influxdb_retries_total",
        _C,
        "Write requests that failed and will be retried, by reason.",
        labels=("reason",),
        label_values=(("reason", RETRY_REASONS),),
    ),
    MetricSpec(
        "posfleet_influxdb_points_dropped_total",
        _C,
        "Points given up on, by reason (the cause is logged).",
        labels=("reason",),
        label_values=(("reason", DROP_REASONS),),
    ),
    MetricSpec(
        "posfleet_influxdb_last_success_timestamp_seconds",
        _G,
        "When InfluxDB last accepted a write (Unix time; 0 before the first).",
        unit="seconds",
    ),
    MetricSpec(
        "posfleet_influxdb_write_duration_seconds",
        _H,
        "Duration of write requests, successful or not.",
        unit="seconds",
    ),
)
"""Every family :class:`InfluxDbMetrics` exposes, for the metric catalogue."""


class InfluxDbStats:
    """Counters the sink and the delivery loop update; read by :class:`InfluxDbMetrics`."""

    def __init__(self) -> None:
        self.points_sent = 0
        self.batches_sent = 0
        self.retries: Counter[str] = Counter()
        self.points_dropped: Counter[str] = Counter()
        self.last_success_unix: float | None = None
        self.write_duration = Histogram(WRITE_BUCKETS)


class InfluxDbMetrics(Collector):
    """Builds the ``posfleet_influxdb_*`` families from the stats and the disk buffer."""

    def __init__(
        self,
        stats: InfluxDbStats,
        *,
        queued_points: Callable[[], int],
        buffer_stats: Callable[[], BufferStats | None],
    ) -> None:
        self._stats = stats
        self._queued_points = queued_points
        self._buffer_stats = buffer_stats
        self._specs = {spec.name: spec for spec in INFLUXDB_METRICS}

    def _family(self, name: str, value: float) -> Metric:
        spec = self._specs[name]
        family: Metric
        if spec.type is MetricType.COUNTER:
            family = CounterMetricFamily(spec.family_name, spec.help, value=value)
        else:
            family = GaugeMetricFamily(spec.name, spec.help, value=value)
        return family

    def _by_reason(self, name: str, counts: Counter[str]) -> Metric:
        spec = self._specs[name]
        family = CounterMetricFamily(spec.family_name, spec.help, labels=["reason"])
        reasons = dict(spec.label_values)["reason"]
        for reason in sorted({*reasons, *counts}):
            family.add_metric([reason], counts[reason])
        return family

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        buffered = self._buffer_stats() or BufferStats(0, 0, 0, 0, 0)
        yield self._family("posfleet_influxdb_points_queued", self._queued_points())
        yield self._family("posfleet_influxdb_buffered_batches", buffered.pending_records)
        yield self._family("posfleet_influxdb_buffered_bytes", buffered.pending_bytes)
        yield self._family(
            "posfleet_influxdb_buffer_dropped_batches_total", buffered.dropped_records_total
        )
        yield self._family(
            "posfleet_influxdb_buffer_dropped_bytes_total", buffered.dropped_bytes_total
        )
        yield self._family(
            "posfleet_influxdb_buffer_corrupt_files_total", buffered.corrupt_files_total
        )
        yield self._family("posfleet_influxdb_points_sent_total", stats.points_sent)
        yield self._family("posfleet_influxdb_batches_sent_total", stats.batches_sent)
        yield self._by_reason("posfleet_influxdb_retries_total", stats.retries)
        yield self._by_reason("posfleet_influxdb_points_dropped_total", stats.points_dropped)
        yield self._family(
            "posfleet_influxdb_last_success_timestamp_seconds", stats.last_success_unix or 0.0
        )
        spec = self._specs["posfleet_influxdb_write_duration_seconds"]
        histogram = HistogramMetricFamily(spec.name, spec.help)
        histogram.add_metric(
            [], stats.write_duration.cumulative(), sum_value=stats.write_duration.total
        )
        yield histogram
