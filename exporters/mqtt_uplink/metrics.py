"""The uplink's self-metrics: what is buffered, published, retried and dropped.

:data:`UPLINK_METRICS` names every family for the metric catalogue; :class:`UplinkMetrics`
builds them from :class:`UplinkStats` on every scrape.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from posfleet.exporters.buffer import BufferStats
from posfleet.exporters.metric_spec import MetricSpec, MetricType

# Reasons a message is lost (label ``reason`` of posfleet_uplink_dropped_total).
BUFFER_FULL: Final = "buffer_full"
"""The disk buffer reached its size cap and dropped its oldest messages."""
WRITE_FAILED: Final = "write_failed"
"""The message could not be written to the disk buffer (disk full, permissions)."""
CORRUPT: Final = "corrupt"
"""A buffer record could not be read back (skipped)."""
DROP_REASONS: Final = (BUFFER_FULL, WRITE_FAILED, CORRUPT)

_C, _G = MetricType.COUNTER, MetricType.GAUGE

UPLINK_METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(
        "posfleet_uplink_buffered_records",
        _G,
        "Messages in the disk buffer not yet confirmed by the central broker.",
    ),
    MetricSpec(
        "posfleet_uplink_buffered_bytes",
        _G,
        "Bytes in the disk buffer not yet confirmed by the central broker.",
        unit="bytes",
    ),
    MetricSpec(
        "posfleet_uplink_published_total",
        _C,
        "Messages the central broker confirmed (PUBACK).",
    ),
    MetricSpec(
        "posfleet_uplink_retries_total",
        _C,
        "Failed connection attempts and connections lost with messages unconfirmed.",
    ),
    MetricSpec(
        "posfleet_uplink_dropped_total",
        _C,
        "Messages lost, by reason (buffer_full: the oldest dropped at the buffer's size cap; "
        "write_failed: not writable to the buffer; corrupt: unreadable in the buffer).",
        labels=("reason",),
        label_values=(("reason", DROP_REASONS),),
    ),
    MetricSpec(
        "posfleet_uplink_connected",
        _G,
        "1 while connected to the central broker.",
    ),
)
"""Every family :class:`UplinkMetrics` exposes, for the metric catalogue."""

_SPECS: Final = {spec.name: spec for spec in UPLINK_METRICS}


def _family(name: str, value: float) -> Metric:
    spec = _SPECS[name]
    if spec.type is MetricType.COUNTER:
        return CounterMetricFamily(spec.family_name, spec.help, value=value)
    return GaugeMetricFamily(spec.name, spec.help, value=value)


@dataclass(slots=True)
class UplinkStats:
    """Counted by the sink and its sender; read by :class:`UplinkMetrics` on each scrape."""

    published: int = 0
    """Messages the broker confirmed (PUBACK)."""
    retries: int = 0
    """Connection attempts that failed or connections lost with messages unconfirmed."""
    refused_records: int = 0
    """Buffer records that could not be decoded (skipped)."""
    append_failures: int = 0
    """Messages that could not be written to the buffer (disk full, permissions)."""
    connected: bool = False
    buffer: BufferStats | None = None
    """The buffer's figures after its last change (read without touching the disk)."""


class UplinkMetrics(Collector):
    """Builds the ``posfleet_uplink_*`` families from :class:`UplinkStats`."""

    def __init__(self, stats: UplinkStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        buffer = stats.buffer or BufferStats(0, 0, 0, 0, 0)
        yield _family("posfleet_uplink_buffered_records", buffer.pending_records)
        yield _family("posfleet_uplink_buffered_bytes", buffer.pending_bytes)
        yield _family("posfleet_uplink_published_total", stats.published)
        yield _family("posfleet_uplink_retries_total", stats.retries)
        spec = _SPECS["posfleet_uplink_dropped_total"]
        dropped = CounterMetricFamily(spec.family_name, spec.help, labels=spec.labels)
        dropped.add_metric((BUFFER_FULL,), buffer.dropped_records_total)
        dropped.add_metric((WRITE_FAILED,), stats.append_failures)
        dropped.add_metric((CORRUPT,), stats.refused_records)
        yield dropped
        yield _family("posfleet_uplink_connected", 1 if stats.connected else 0)
