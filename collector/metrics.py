"""The collector's own metrics: poll counts, errors, durations, lag, terminal health.

:class:`CollectorStats` is plain counting done by the poller and the MQTT hub;
:class:`CollectorMetrics` is a prometheus_client custom collector that turns the counts and
the fleet state into metric families on every scrape, so nothing is kept twice.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from typing import Final

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from posfleet.collector.inputs import PENDING
from posfleet.collector.state import Health

DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RECENT_LAGS: Final = 10_000
"""Lags kept for the recent p99 (about 15 s of polls for 10,000 terminals)."""

OK: Final = "ok"
ERROR: Final = "error"


class Histogram:
    """Counts of observations per bucket, plus their sum (cumulated at scrape time)."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound == math.inf else repr(bound), running))
        return buckets


class CollectorStats:
    """Counters the poller and the MQTT hub update; read by :class:`CollectorMetrics`."""

    def __init__(self) -> None:
        self.polls: Counter[tuple[str, str]] = Counter()
        self.poll_errors: Counter[tuple[str, str]] = Counter()
        self.bad_input: Counter[tuple[str, str]] = Counter()
        self.durations: dict[str, Histogram] = {}
        self.lag = Histogram(LAG_BUCKETS)
        self.recent_lags: deque[float] = deque(maxlen=RECENT_LAGS)

    def record_poll(
        self, driver: str, error_reason: str | None, *, duration: float, lag: float
    ) -> None:
        """One finished poll; ``error_reason`` is None when it succeeded."""
        if error_reason is None:
            self.polls[(driver, OK)] += 1
        elif error_reason == PENDING:
            self.polls[(driver, PENDING)] += 1
        else:
            self.polls[(driver, ERROR)] += 1
            self.poll_errors[(driver, error_reason)] += 1
        histogram = self.durations.get(driver)
        if histogram is None:
            histogram = self.durations[driver] = Histogram(DURATION_BUCKETS)
        histogram.observe(duration)
        self.lag.observe(lag)
        self.recent_lags.append(lag)

    def count_bad_input(self, driver: str, reason: str) -> None:
        """One refused message or body."""
        self.bad_input[(driver, reason)] += 1

    def recent_lag_quantile(self, quantile: float) -> float:
        """The given quantile of the last :data:`RECENT_LAGS` scheduling lags (0 if none)."""
        if not self.recent_lags:
            return 0.0
        ordered = sorted(self.recent_lags)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


def _counter(
    name: str, documentation: str, labels: tuple[str, str], counts: Counter[tuple[str, str]]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for label_values, count in sorted(counts.items()):
        family.add_metric(label_values, count)
    return family


class CollectorMetrics(Collector):
    """Builds the ``posfleet_collector_*`` families from the stats and health counts."""

    def __init__(
        self, stats: CollectorStats, health_counts: Callable[[], Mapping[Health, int]]
    ) -> None:
        self._stats = stats
        self._health_counts = health_counts

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        yield _counter(
            "posfleet_collector_polls",
            "Polls finished, by driver and result (ok, error, or pending: nothing to report yet).",
            ("driver", "result"),
            stats.polls,
        )
        yield _counter(
            "posfleet_collector_poll_errors",
            "Failed polls, by driver and reason (timeout, unreachable, malformed, ...).",
            ("driver", "reason"),
            stats.poll_errors,
        )
        yield _counter(
            "posfleet_collector_bad_input",
            "Refused messages or bodies (malformed, too_large, card_data, ...), by driver.",
            ("driver", "reason"),
            stats.bad_input,
        )
        durations = HistogramMetricFamily(
            "posfleet_collector_poll_duration_seconds",
            "Time one poll took, by driver.",
            labels=("driver",),
        )
        for driver, histogram in sorted(stats.durations.items()):
            durations.add_metric((driver,), histogram.cumulative(), histogram.total)
        yield durations
        lag = HistogramMetricFamily(
            "posfleet_collector_scheduling_lag_seconds",
            "How late polls started after they were due (slots busy, event loop busy).",
        )
        lag.add_metric((), stats.lag.cumulative(), stats.lag.total)
        yield lag
        yield GaugeMetricFamily(
            "posfleet_collector_scheduling_lag_p99_seconds",
            f"99th percentile of the last {RECENT_LAGS} scheduling lags.",
            value=stats.recent_lag_quantile(0.99),
        )
        terminals = GaugeMetricFamily(
            "posfleet_collector_terminals",
            "Terminals by health state (unknown: not read yet).",
            labels=("state",),
        )
        for state, count in self._health_counts().items():
            terminals.add_metric((str(state),), count)
        yield terminals
