"""Ingest's self-metrics: messages received, accepted, refused by reason, acknowledged;
output latency and failures; messages in flight; terminals by freshness.

:data:`INGEST_METRICS` names every family for the metric catalogue; :class:`IngestMetrics`
builds them from :class:`IngestStats` on every scrape.
"""

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

from posfleet.collector.inputs import BINARY, CARD_DATA, MALFORMED, TOO_LARGE, WRONG_TERMINAL
from posfleet.collector.metrics import Histogram
from posfleet.collector.state import Health
from posfleet.exporters.ingest.checks import UNKNOWN_TOPIC
from posfleet.exporters.metric_spec import MetricSpec, MetricType

SINK_LATENCY_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5)
MESSAGE_KINDS: Final = ("status", "transactions")
REFUSAL_REASONS: Final = (MALFORMED, TOO_LARGE, BINARY, CARD_DATA, WRONG_TERMINAL, UNKNOWN_TOPIC)
"""Why a message is refused (label ``reason`` of posfleet_ingest_messages_refused_total)."""
TERMINAL_STATES: Final = tuple(str(health) for health in Health)

_C, _G, _H = MetricType.COUNTER, MetricType.GAUGE, MetricType.HISTOGRAM

INGEST_METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(
        "posfleet_ingest_messages_received_total",
        _C,
        "Messages received from the broker (redeliveries included).",
    ),
    MetricSpec(
        "posfleet_ingest_messages_accepted_total",
        _C,
        "Messages that passed the checks and were written by every output, by kind.",
        labels=("kind",),
        label_values=(("kind", MESSAGE_KINDS),),
    ),
    MetricSpec(
        "posfleet_ingest_messages_refused_total",
        _C,
        "Messages refused (and acknowledged: they never become valid), by reason.",
        labels=("reason",),
        label_values=(("reason", REFUSAL_REASONS),),
    ),
    MetricSpec(
        "posfleet_ingest_messages_acked_total",
        _C,
        "Messages acknowledged to the broker (after the outputs wrote or buffered them).",
    ),
    MetricSpec(
        "posfleet_ingest_sink_failures_total",
        _C,
        "Messages an output failed to write; not acknowledged, the broker sends them again.",
    ),
    MetricSpec(
        "posfleet_ingest_sink_latency_seconds",
        _H,
        "Time the outputs took to write or buffer one batch of messages.",
        unit="seconds",
    ),
    MetricSpec(
        "posfleet_ingest_in_flight_messages",
        _G,
        "Messages received and not yet acknowledged.",
    ),
    MetricSpec("posfleet_ingest_connected", _G, "1 while subscribed to the broker."),
    MetricSpec(
        "posfleet_ingest_reconnects_total",
        _C,
        "Connections lost or given up (broker gone, output failing).",
    ),
    MetricSpec(
        "posfleet_ingest_terminals",
        _G,
        "Terminals this copy of ingest has snapshots of, by freshness "
        "(online: fresh; offline: stale).",
        labels=("state",),
        label_values=(("state", TERMINAL_STATES),),
    ),
)
"""Every family :class:`IngestMetrics` exposes, for the metric catalogue."""

_SPECS: Final = {spec.name: spec for spec in INGEST_METRICS}


def _family(name: str, value: float) -> Metric:
    spec = _SPECS[name]
    if spec.type is MetricType.COUNTER:
        return CounterMetricFamily(spec.family_name, spec.help, value=value)
    return GaugeMetricFamily(spec.name, spec.help, value=value)


def _by_label(name: str, counts: Mapping[str, float]) -> Metric:
    """A family with one label, a series for each known value (0 until it happens)."""
    spec = _SPECS[name]
    (label,) = spec.labels
    known = dict(spec.label_values)[label]
    family: CounterMetricFamily | GaugeMetricFamily
    if spec.type is MetricType.COUNTER:
        family = CounterMetricFamily(spec.family_name, spec.help, labels=spec.labels)
    else:
        family = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
    for value in (*known, *sorted(set(counts) - set(known))):
        family.add_metric((value,), counts.get(value, 0))
    return family


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
        yield _family("posfleet_ingest_messages_received_total", stats.received)
        yield _by_label("posfleet_ingest_messages_accepted_total", stats.accepted)
        yield _by_label("posfleet_ingest_messages_refused_total", stats.refused)
        yield _family("posfleet_ingest_messages_acked_total", stats.acked)
        yield _family("posfleet_ingest_sink_failures_total", stats.sink_failures)
        spec = _SPECS["posfleet_ingest_sink_latency_seconds"]
        latency = HistogramMetricFamily(spec.name, spec.help)
        latency.add_metric((), stats.sink_latency.cumulative(), stats.sink_latency.total)
        yield latency
        yield _family("posfleet_ingest_in_flight_messages", stats.in_flight)
        yield _family("posfleet_ingest_connected", 1 if stats.connected else 0)
        yield _family("posfleet_ingest_reconnects_total", stats.reconnects)
        counts = {str(state): count for state, count in self._health_counts().items()}
        yield _by_label("posfleet_ingest_terminals", counts)
