"""The uplink's self-metrics: what is buffered, published, retried and dropped."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from posfleet.exporters.buffer import BufferStats


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
        buffer = stats.buffer
        yield GaugeMetricFamily(
            "posfleet_uplink_buffered_records",
            "Messages in the disk buffer not yet confirmed by the central broker.",
            value=buffer.pending_records if buffer else 0,
        )
        yield GaugeMetricFamily(
            "posfleet_uplink_buffered_bytes",
            "Bytes in the disk buffer not yet confirmed by the central broker.",
            value=buffer.pending_bytes if buffer else 0,
        )
        yield CounterMetricFamily(
            "posfleet_uplink_published",
            "Messages the central broker confirmed (PUBACK).",
            value=stats.published,
        )
        yield CounterMetricFamily(
            "posfleet_uplink_retries",
            "Failed connection attempts and connections lost with messages unconfirmed.",
            value=stats.retries,
        )
        dropped = CounterMetricFamily(
            "posfleet_uplink_dropped",
            "Messages lost: buffer full (oldest dropped), not writable, or unreadable.",
            labels=("reason",),
        )
        dropped.add_metric(("buffer_full",), buffer.dropped_records_total if buffer else 0)
        dropped.add_metric(("write_failed",), stats.append_failures)
        dropped.add_metric(("corrupt",), stats.refused_records)
        yield dropped
        yield GaugeMetricFamily(
            "posfleet_uplink_connected",
            "1 while connected to the central broker.",
            value=1 if stats.connected else 0,
        )
