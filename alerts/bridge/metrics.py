"""The bridge's self-metrics, in a registry of its own (one per bridge, so tests don't mix).

Counters count events as they happen; the queue depth and the tickets per status are read
from the store on every scrape (a store that does not answer leaves them out and counts a
store error).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from posfleet.alerts.bridge.model import TicketStatus
from posfleet.alerts.bridge.store import StoreUnavailable

WEBHOOK_RESULTS = (
    "accepted",
    "invalid_json",
    "invalid_payload",
    "unsupported_version",
    "too_large",
    "unauthorized",
    "store_unavailable",
)
"""Values of ``result`` on posfleet_tickets_webhooks_received_total."""


class _StoreView(Protocol):
    def outbox_depth(self) -> dict[str, int]: ...

    def counts_by_status(self) -> dict[str, int]: ...


class BridgeMetrics:
    """Counters of the bridge; ``watch(store)`` adds the gauges read from the store."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.webhooks = Counter(
            "posfleet_tickets_webhooks_received_total",
            "Alertmanager notifications received, by result (bad payloads included).",
            ["result"],
            registry=self.registry,
        )
        for result in WEBHOOK_RESULTS:
            self.webhooks.labels(result)
        self.alerts = Counter(
            "posfleet_tickets_alerts_applied_total",
            "Faults in notifications applied to tickets, by outcome "
            "(opened, reopened, updated, repeat, resolved, ignored).",
            ["outcome"],
            registry=self.registry,
        )
        self.opened = Counter(
            "posfleet_tickets_opened_total", "Tickets opened.", registry=self.registry
        )
        self.reopened = Counter(
            "posfleet_tickets_reopened_total",
            "Closed tickets reopened because their fault fired again within the window.",
            registry=self.registry,
        )
        self.closed = Counter(
            "posfleet_tickets_closed_total",
            "Tickets closed, by reason (resolved: after the grace period; manual: by a person).",
            ["reason"],
            registry=self.registry,
        )
        self.outbound = Counter(
            "posfleet_tickets_outbound_calls_total",
            "HTTP calls to ticketing systems, by system and result "
            "(ok, timeout, error, http_<status>).",
            ["system", "result"],
            registry=self.registry,
        )
        self.given_up = Counter(
            "posfleet_tickets_outbox_given_up_total",
            "Ticket changes no longer retried (permanent error or too many attempts).",
            ["system"],
            registry=self.registry,
        )
        self.store_errors = Counter(
            "posfleet_tickets_store_errors_total",
            "Ticket store operations that failed because the database did not answer.",
            ["operation"],
            registry=self.registry,
        )

    def record_call(self, system: str, result: str) -> None:
        self.outbound.labels(system, result).inc()

    def watch(self, store: _StoreView) -> None:
        self.registry.register(_StoreCollector(store, self))


class _StoreCollector(Collector):
    def __init__(self, store: _StoreView, metrics: BridgeMetrics) -> None:
        self._store = store
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        try:
            depth = self._store.outbox_depth()
            counts = self._store.counts_by_status()
        except StoreUnavailable:
            self._metrics.store_errors.labels("scrape").inc()
            return
        queue = GaugeMetricFamily(
            "posfleet_tickets_outbox_queue_depth",
            "Ticket changes waiting to be pushed, per ticketing system.",
            labels=["system"],
        )
        for system, count in sorted(depth.items()):
            queue.add_metric([system], count)
        yield queue
        tickets = GaugeMetricFamily(
            "posfleet_tickets", "Tickets in the store, per status.", labels=["status"]
        )
        for status in TicketStatus:
            tickets.add_metric([status.value], counts.get(status.value, 0))
        yield tickets
