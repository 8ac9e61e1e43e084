"""Self-metrics of remote-write: counts kept by the writer, turned into families on scrape."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from posfleet.exporters.buffer import BufferStats
from posfleet.exporters.catalogue import CATALOGUE, MetricSpec


class RemoteWriteStats:
    """Counters the writer updates."""

    def __init__(self) -> None:
        self.samples_sent = 0
        self.samples_failed: Counter[str] = Counter()
        self.samples_retried = 0
        self.samples_dropped: Counter[str] = Counter()
        self.last_success: float = 0.0


def _spec(name: str) -> MetricSpec:
    return CATALOGUE.metric(name)


def _counter(name: str, value: float) -> CounterMetricFamily:
    spec = _spec(name)
    return CounterMetricFamily(spec.family_name, spec.help, value=value)


def _labelled(name: str, counts: Counter[str]) -> CounterMetricFamily:
    spec = _spec(name)
    family = CounterMetricFamily(spec.family_name, spec.help, labels=spec.labels)
    for reason, count in sorted(counts.items()):
        family.add_metric((reason,), count)
    return family


def _gauge(name: str, value: float) -> GaugeMetricFamily:
    spec = _spec(name)
    return GaugeMetricFamily(spec.family_name, spec.help, value=value)


class RemoteWriteMetrics(Collector):
    """The ``posfleet_remote_write_*`` families (names and help from the catalogue)."""

    def __init__(self, stats: RemoteWriteStats, buffer_stats: Callable[[], BufferStats]) -> None:
        self._stats = stats
        self._buffer_stats = buffer_stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        buffered = self._buffer_stats()
        yield _counter("posfleet_remote_write_samples_sent_total", stats.samples_sent)
        yield _labelled("posfleet_remote_write_samples_failed_total", stats.samples_failed)
        yield _counter("posfleet_remote_write_samples_retried_total", stats.samples_retried)
        yield _labelled("posfleet_remote_write_samples_dropped_total", stats.samples_dropped)
        yield _gauge("posfleet_remote_write_buffered_requests", buffered.pending_records)
        yield _gauge("posfleet_remote_write_buffered_bytes", buffered.pending_bytes)
        yield _counter(
            "posfleet_remote_write_buffer_dropped_requests_total", buffered.dropped_records_total
        )
        yield _gauge("posfleet_remote_write_last_success_timestamp_seconds", stats.last_success)
