"""Ingest's self-metrics: messages received, accepted, refused by reason, acknowledged;
output latency and failures; messages in flight; terminals by freshness."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from posfleet.collector.metrics import Histogram
from posfleet.collector.state import Health

SINK_LATENCY_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5)


@dataclass(slots=True)
class IngestStats:
    """Counted by the pipeline and the consumer; read by :class:`IngestMetrics`."""

    received: int = 0
    accepted: Counter[str] = field(default_factory=Counter)
    """By kind: status, transactions."""
    refused: Counter[str] = field(default_factory=Counter)
    """By reason."""
    acked: int = 0
    sink_failures: int = 0
    in_flight: int = 0
    """Received from the broker, not yet acknowledged."""
    connected: bool = False
    reconnects: int = 0
    sink_latency: Histogram = field(default_factory=lambda: Histogram(SINK_LATENCY_BUCKETS))


class IngestMetrics(Collector):
    """Builds the ``posfleet_ingest_*`` families on each scrape."""

    def __init__(
        self, stats: IngestStats, health_counts: Callable[[], Mapping[Health, int]]
    ) -> None:
        self._stats = stats
        self._health_counts = health_counts

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        yield CounterMetricFamily(
            "posfleet_ingest_messages_received",
            "Messages received from the broker (redeliveries included).",
            value=stats.received,
        )
        accepted = CounterMetricFamily(
            "posfleet_ingest_messages_accepted",
            "Messages that passed the checks and were written by every output, by kind.",
            labels=("kind",),
        )
        for kind in ("status", "transactions"):
            accepted.add_metric((kind,), stats.accepted[kind])
        yield accepted
        refused = CounterMetricFamily(
            "posfleet_ingest_messages_refused",
            "Messages refused (and acknowledged: they never become valid), by reason.",
            labels=("reason",),
        )
        for reason, count in sorted(stats.refused.items()):
            refused.add_metric((reason,), count)
        yield refused
        yield CounterMetricFamily(
            "posfleet_ingest_messages_acked",
            "Messages acknowledged to the broker (after the outputs wrote or buffered them).",
            value=stats.acked,
        )
        yield CounterMetricFamily(
            "posfleet_ingest_sink_failures",
            "Messages an output failed to write; not acknowledged, the broker sends them again.",
            value=stats.sink_failures,
        )
        latency = HistogramMetricFamily(
            "posfleet_ingest_sink_latency_seconds",
            "Time the outputs took to write or buffer one batch of messages.",
        )
        latency.add_metric((), stats.sink_latency.cumulative(), stats.sink_latency.total)
        yield latency
        yield GaugeMetricFamily(
            "posfleet_ingest_in_flight_messages",
            "Messages received and not yet acknowledged.",
            value=stats.in_flight,
        )
        yield GaugeMetricFamily(
            "posfleet_ingest_connected",
            "1 while subscribed to the broker.",
            value=1 if stats.connected else 0,
        )
        yield CounterMetricFamily(
            "posfleet_ingest_reconnects",
            "Connections lost or given up (broker gone, output failing).",
            value=stats.reconnects,
        )
        terminals = GaugeMetricFamily(
            "posfleet_ingest_terminals",
            "Terminals this copy of ingest has snapshots of, by freshness "
            "(online: fresh; offline: stale).",
            labels=("state",),
        )
        for state, count in self._health_counts().items():
            terminals.add_metric((str(state),), count)
        yield terminals
