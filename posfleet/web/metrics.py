"""The web app's self-metrics in a registry of its own, built fresh on every scrape."""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from posfleet.web.metric_specs import (
    LOGIN_FAILURE_REASONS,
    RATE_LIMITED_BY,
    REQUEST_BUCKETS,
    WEB_METRICS,
)

_HELP = {spec.name: spec.help for spec in WEB_METRICS}


class WebMetrics(Collector):
    """Counts requests, sign-in failures and refusals; registered in :attr:`registry`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.durations: dict[str, list[float]] = {}
        """Per route: counts per bucket (cumulative built at scrape), then sum at the end."""
        self.login_failures: Counter[str] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.invalid_input: Counter[str] = Counter()
        self.tickets_unavailable = 0
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(self)

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, str(status))] += 1
            slots = self.durations.setdefault(route, [0.0] * (len(REQUEST_BUCKETS) + 2))
            slots[bisect.bisect_left(REQUEST_BUCKETS, seconds)] += 1
            slots[-1] += seconds

    def count(self, counter: Counter[str], key: str) -> None:
        with self._lock:
            counter[key] += 1

    def ticket_failure(self) -> None:
        with self._lock:
            self.tickets_unavailable += 1

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            requests = dict(self.requests)
            durations = {route: list(slots) for route, slots in self.durations.items()}
            failures = dict(self.login_failures)
            limited = dict(self.rate_limited)
            invalid = dict(self.invalid_input)
            unavailable = self.tickets_unavailable
        family = CounterMetricFamily(
            "posfleet_web_requests", _HELP["posfleet_web_requests_total"],
            labels=["route", "method", "status"],
        )
        for labels, value in sorted(requests.items()):
            family.add_metric(list(labels), value)
        yield family
        histogram = HistogramMetricFamily(
            "posfleet_web_request_duration_seconds",
            _HELP["posfleet_web_request_duration_seconds"],
            labels=["route"],
        )
        for route, slots in sorted(durations.items()):
            cumulative, buckets = 0.0, []
            for bound, count in zip((*REQUEST_BUCKETS, float("inf")), slots[:-1], strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
            histogram.add_metric([route], buckets, slots[-1])
        yield histogram
        family = CounterMetricFamily(
            "posfleet_web_login_failures", _HELP["posfleet_web_login_failures_total"],
            labels=["reason"],
        )
        for reason in LOGIN_FAILURE_REASONS:
            family.add_metric([reason], failures.get(reason, 0))
        yield family
        family = CounterMetricFamily(
            "posfleet_web_logins_rate_limited", _HELP["posfleet_web_logins_rate_limited_total"],
            labels=["by"],
        )
        for by in RATE_LIMITED_BY:
            family.add_metric([by], limited.get(by, 0))
        yield family
        family = CounterMetricFamily(
            "posfleet_web_invalid_input", _HELP["posfleet_web_invalid_input_total"],
            labels=["route"],
        )
        for route, value in sorted(invalid.items()):
            family.add_metric([route], value)
        yield family
        yield CounterMetricFamily(
            "posfleet_web_tickets_unavailable",
            _HELP["posfleet_web_tickets_unavailable_total"],
            value=unavailable,
        )
