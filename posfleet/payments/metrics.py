"""The payments metrics as a prometheus_client collector, built from current state per scrape.

Per store, attempts by cause are ``posfleet_transactions_total`` (derived metrics); here
come the per-terminal attempts (only for small fleets: 9 series per terminal), the open
cases per store, the case engine's own counts and the operator findings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from posfleet.payments.classification import Classifier
from posfleet.payments.findings import OperatorFindings
from posfleet.payments.groups import CauseGroup
from posfleet.payments.index import CaseTracker
from posfleet.payments.metric_specs import CASE_KINDS, CAUSES, CLOSE_REASONS, PAYMENTS_METRICS

_CAUSE_INDEX = {group: index for index, group in enumerate(CauseGroup)}


@dataclass(slots=True)
class TerminalAttempts:
    """One terminal's attempts by cause group (index: CauseGroup order)."""

    store: str
    merchant: str
    region: str
    by_cause: list[int]


@dataclass(slots=True)
class PaymentStats:
    """Counts the case engine and the classifier update; read by :class:`PaymentsMetrics`."""

    terminals: dict[str, TerminalAttempts] = field(default_factory=dict)
    cases_opened: Counter[str] = field(default_factory=Counter)
    cases_closed: Counter[str] = field(default_factory=Counter)
    open_cases: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    reversals_unmatched: int = 0
    tickets_due: int = 0
    ticket_failures: int = 0

    def count_attempt(
        self, terminal: str, store: str, merchant: str, region: str, group: CauseGroup
    ) -> None:
        entry = self.terminals.get(terminal)
        if entry is None:
            entry = self.terminals[terminal] = TerminalAttempts(
                store, merchant, region, [0] * len(_CAUSE_INDEX)
            )
        entry.by_cause[_CAUSE_INDEX[group]] += 1


class PaymentsMetrics(Collector):
    """Builds the ``posfleet_payment_*`` and operator families on every scrape."""

    def __init__(
        self,
        stats: PaymentStats,
        tracker: CaseTracker,
        classifier: Classifier,
        findings: OperatorFindings,
        *,
        regions: dict[str, str],
        max_terminals: int,
        now: Callable[[], datetime],
    ) -> None:
        self._stats = stats
        self._tracker = tracker
        self._classifier = classifier
        self._findings = findings
        self._regions = regions
        self._max_terminals = max_terminals
        self._now = now
        self._specs = {spec.name: spec for spec in PAYMENTS_METRICS}

    def _counter(self, name: str, labels: tuple[str, ...] = ()) -> CounterMetricFamily:
        spec = self._specs[name]
        return CounterMetricFamily(spec.family_name, spec.help, labels=labels or None)

    def _gauge(self, name: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
        spec = self._specs[name]
        return GaugeMetricFamily(spec.name, spec.help, labels=labels or None)

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        spec = self._specs["posfleet_payment_attempts_total"]
        attempts = self._counter(spec.name, spec.labels)
        if len(stats.terminals) <= self._max_terminals:
            for terminal, entry in stats.terminals.items():
                for cause, count in zip(CAUSES, entry.by_cause, strict=True):
                    if count:
                        attempts.add_metric(
                            (terminal, entry.store, entry.merchant, entry.region, cause), count
                        )
        yield attempts
        open_cases = self._gauge(
            "posfleet_payment_cases_open", self._specs["posfleet_payment_cases_open"].labels
        )
        for (store, merchant, region, kind), count in sorted(stats.open_cases.items()):
            open_cases.add_metric((store, merchant, region, kind), count)
        yield open_cases
        opened = self._counter("posfleet_payment_cases_opened_total", ("kind",))
        for kind in CASE_KINDS:
            opened.add_metric((kind,), stats.cases_opened[kind])
        yield opened
        closed = self._counter("posfleet_payment_cases_closed_total", ("reason",))
        for reason in CLOSE_REASONS:
            closed.add_metric((reason,), stats.cases_closed[reason])
        yield closed
        waiting = self._gauge("posfleet_payment_suspects_waiting")
        waiting.add_metric((), len(self._tracker))
        yield waiting
        evicted = self._counter("posfleet_payment_suspects_evicted_total")
        evicted.add_metric((), self._tracker.stats.evicted)
        yield evicted
        unmatched = self._counter("posfleet_payment_reversals_unmatched_total")
        unmatched.add_metric((), stats.reversals_unmatched)
        yield unmatched
        unknown = self._counter("posfleet_payment_unclassified_codes_total", ("table", "code"))
        for (table, code), count in sorted(self._classifier.unknown_codes.items()):
            unknown.add_metric((table, code), count)
        yield unknown
        due = self._gauge("posfleet_payment_tickets_due")
        due.add_metric((), stats.tickets_due)
        yield due
        failures = self._counter("posfleet_payment_ticket_failures_total")
        failures.add_metric((), stats.ticket_failures)
        yield failures
        training = self._gauge(
            "posfleet_operator_training_recommended",
            self._specs["posfleet_operator_training_recommended"].labels,
        )
        for finding in self._findings.findings(self._now()):
            region = self._regions.get(finding.store_id, "")
            training.add_metric(
                (finding.store_id, finding.merchant_id, region, finding.operator_id), 1.0
            )
        yield training
