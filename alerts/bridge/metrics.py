"""The bridge's self-metrics, in a registry of its own (one per bridge, so tests don't mix).

Counters count events as they happen; the queue depth and the tickets per status and team are read
from the store on every scrape (a store that does not answer leaves them out and counts a
store error). One custom collector builds every family from
:data:`~posfleet.alerts.bridge.metric_specs.TICKETS_METRICS`, so the exposition holds the
catalogued families only (no ``_created`` series).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Final, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from posfleet.alerts.bridge.metric_specs import (
    ALERT_OUTCOMES,
    CLOSE_REASONS,
    STORE_OPERATIONS,
    TICKET_STATUSES,
    TICKETS_METRICS,
    WEBHOOK_RESULTS,
)
from posfleet.alerts.bridge.store import StoreUnavailable
from posfleet.exporters.metric_spec import MetricSpec

__all__ = ["WEBHOOK_RESULTS", "BridgeMetrics", "CounterFamily"]

_SPECS: Final = {spec.name: spec for spec in TICKETS_METRICS}


class _StoreView(Protocol):
    def outbox_depth(self) -> dict[str, int]: ...

    def counts_by_status_and_team(self) -> dict[tuple[str, str], int]: ...


class _Count:
    """One series of a :class:`CounterFamily`."""

    __slots__ = ("_lock", "value")

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        # Webhooks and API calls run in worker threads.
        with self._lock:
            self.value += amount


class CounterFamily:
    """A counter of the catalogue, by label values: ``labels(...).inc()`` as with
    prometheus_client's ``Counter``, collected by :class:`BridgeMetrics`."""

    def __init__(self, spec: MetricSpec, start_at_zero: Iterable[Sequence[str]] = ()) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._series: dict[tuple[str, ...], _Count] = {}
        for values in start_at_zero:
            self.labels(*values)

    def labels(self, *values: str) -> _Count:
        if len(values) != len(self.spec.labels):
            raise ValueError(f"{self.spec.name} takes labels {self.spec.labels}, got {values}")
        series = self._series.get(values)
        if series is None:
            with self._lock:
                series = self._series.setdefault(values, _Count(self._lock))
        return series

    def inc(self, amount: float = 1.0) -> None:
        """For a counter without labels."""
        self.labels().inc(amount)

    def family(self) -> CounterMetricFamily:
        spec = self.spec
        family = CounterMetricFamily(spec.family_name, spec.help, labels=spec.labels)
        with self._lock:
            values = sorted((labels, series.value) for labels, series in self._series.items())
        for labels, value in values:
            family.add_metric(labels, value)
        return family


def _counter(name: str, *start_at_zero: str) -> CounterFamily:
    spec = _SPECS[name]
    if not spec.labels:
        return CounterFamily(spec, [()])
    return CounterFamily(spec, [(value,) for value in start_at_zero])


class BridgeMetrics(Collector):
    """Counters of the bridge; ``watch(store, systems)`` adds the gauges read from the store.

    Closed label sets (results, outcomes, reasons, operations) start at zero so that rules
    see a series before its first increase; so do the configured systems' counters.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.webhooks = _counter("posfleet_tickets_webhooks_received_total", *WEBHOOK_RESULTS)
        self.alerts = _counter("posfleet_tickets_alerts_applied_total", *ALERT_OUTCOMES)
        self.opened = _counter("posfleet_tickets_opened_total")
        self.reopened = _counter("posfleet_tickets_reopened_total")
        self.closed = _counter("posfleet_tickets_closed_total", *CLOSE_REASONS)
        self.outbound = _counter("posfleet_tickets_outbound_calls_total")
        self.given_up = _counter("posfleet_tickets_outbox_given_up_total")
        self.store_errors = _counter("posfleet_tickets_store_errors_total", *STORE_OPERATIONS)
        self._counters = (
            self.webhooks,
            self.alerts,
            self.opened,
            self.reopened,
            self.closed,
            self.outbound,
            self.given_up,
            self.store_errors,
        )
        self._store: _StoreView | None = None
        self._systems: tuple[str, ...] = ()
        self.registry.register(self)

    def record_call(self, system: str, result: str) -> None:
        self.outbound.labels(system, result).inc()

    def watch(self, store: _StoreView, systems: Iterable[str] = ()) -> None:
        """Report ``store``'s queue depth (0 for a configured system with nothing queued)
        and tickets per status on every scrape."""
        self._store = store
        self._systems = tuple(systems)
        for system in self._systems:
            self.given_up.labels(system)

    def collect(self) -> Iterator[Metric]:
        for counter in self._counters:
            yield counter.family()
        if self._store is not None:
            yield from self._store_families(self._store)

    def _store_families(self, store: _StoreView) -> Iterator[Metric]:
        try:
            depth = store.outbox_depth()
            counts = store.counts_by_status_and_team()
        except StoreUnavailable:
            self.store_errors.labels("scrape").inc()
            return
        spec = _SPECS["posfleet_tickets_outbox_queue_depth"]
        queue = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
        for system in sorted({*self._systems, *depth}):
            queue.add_metric([system], depth.get(system, 0))
        yield queue
        spec = _SPECS["posfleet_tickets"]
        tickets = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
        for status in TICKET_STATUSES:
            teams = sorted(team for known, team in counts if known == status)
            # A status without tickets still has its series (team ""), so rules see a 0.
            for team in teams or [""]:
                tickets.add_metric([status, team], counts.get((status, team), 0))
        yield tickets
