"""The derived metrics as a prometheus_client collector, and the sink that feeds them.

:class:`DerivedMetrics` is registered in the collector's registry (so the metrics are served
on ``/metrics`` and sent by remote-write with the self-metrics); its :attr:`~DerivedMetrics.sink`
goes into the collector's (or ingest's) outputs, where it sees every snapshot and every
transaction event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from posfleet.collector.clock import Clock, SystemClock
from posfleet.config.models import PosfleetConfig, Store
from posfleet.exporters.catalogue import CATALOGUE, MetricSpec, MetricType
from posfleet.exporters.derived.opening import is_open, store_zone
from posfleet.exporters.derived.paper import PaperForecaster
from posfleet.exporters.derived.policy import policy_thresholds
from posfleet.exporters.derived.transactions import TransactionCounter
from posfleet.exporters.derived.versions import is_below
from posfleet.payments.classification import Classifier, TableError, default_classifier
from posfleet.telemetry import StatusSnapshot, TransactionEvent

logger = logging.getLogger(__name__)

VERSION_FIELDS = {
    "os": "os_version",
    "payment_app": "payment_app_version",
    "emv_kernel": "emv_kernel_version",
}
"""Baseline component -> field of ``firmware`` in the status snapshot."""


def _family(name: str) -> CounterMetricFamily | GaugeMetricFamily:
    spec: MetricSpec = CATALOGUE.metric(name)
    if spec.type is MetricType.COUNTER:
        return CounterMetricFamily(spec.family_name, spec.help, labels=spec.labels)
    return GaugeMetricFamily(spec.family_name, spec.help, labels=spec.labels)


def _classifier(config: PosfleetConfig) -> Classifier:
    try:
        return Classifier.from_settings(
            config.payments, ((merchant.id, merchant.acquirer) for merchant in config.merchants)
        )
    except TableError as exc:
        logger.error("%s; classifying with the generic ISO 8583 table instead", exc)
        return default_classifier()


class DerivedSink:
    """Feeds the derived state from the outputs' stream (implements ``Sink``)."""

    def __init__(
        self, paper: PaperForecaster, transactions: TransactionCounter, versions: bool
    ) -> None:
        self._paper = paper
        self._transactions = transactions
        self._track_versions = versions
        self.versions: dict[str, dict[str, str]] = {name: {} for name in VERSION_FIELDS}
        """Per baseline component: terminal id -> its latest reported version."""

    async def publish(self, snapshot: StatusSnapshot) -> None:
        self._paper.observe(snapshot)
        firmware = snapshot.firmware
        if self._track_versions and firmware is not None:
            for component, field in VERSION_FIELDS.items():
                version = getattr(firmware, field)
                if version:
                    self.versions[component][snapshot.terminal_id] = version

    async def publish_transaction(self, event: TransactionEvent) -> None:
        self._transactions.observe(event)

    async def close(self) -> None:
        return None


class DerivedMetrics(Collector):
    """Paper time to empty, store opening, policy, baselines, transactions and reversals."""

    def __init__(self, config: PosfleetConfig, *, clock: Clock | None = None) -> None:
        self._config = config
        self._settings = config.alerting
        self._clock = clock or SystemClock()
        self._zones: list[tuple[Store, ZoneInfo]] = []
        for store in config.stores:
            try:
                self._zones.append((store, store_zone(store)))
            except ValueError as exc:
                logger.error("%s; posfleet_store_open is not exported for it", exc)
        self.paper = PaperForecaster(self._settings)
        self.transactions = TransactionCounter(
            {store.id: store.region for store in config.stores},
            self._settings.failed_reversal_retention_seconds,
            lambda: self._clock.now().timestamp(),
            _classifier(config).classify,
        )
        self.sink = DerivedSink(
            self.paper, self.transactions, versions=bool(self._settings.baseline_versions)
        )

    def collect(self) -> Iterator[Metric]:
        now = self._clock.now()
        yield self._paper_family(now.timestamp())
        yield self._store_open_family(now)
        yield from self._policy_families()
        yield from self._transaction_families(now.timestamp())

    def _paper_family(self, now: float) -> Metric:
        family = _family("posfleet_printer_paper_time_to_empty_seconds")
        for forecast in self.paper.forecasts(now):
            family.add_metric(
                (forecast.terminal, forecast.store, forecast.merchant, forecast.region),
                forecast.seconds_to_empty,
            )
        return family

    def _store_open_family(self, now: datetime) -> Metric:
        family = _family("posfleet_store_open")
        for store, zone in self._zones:
            family.add_metric(
                (store.id, store.merchant, store.region), 1.0 if is_open(store, now, zone) else 0.0
            )
        return family

    def _policy_families(self) -> Iterator[Metric]:
        thresholds = _family("posfleet_policy_threshold")
        for name, value in policy_thresholds(self._settings):
            thresholds.add_metric((name,), value)
        yield thresholds
        baselines = self._settings.baseline_versions
        info = _family("posfleet_baseline_info")
        below = _family("posfleet_version_below_baseline")
        for component, baseline in sorted(baselines.items()):
            info.add_metric((component, baseline), 1.0)
            for version in sorted(set(self.sink.versions[component].values())):
                below.add_metric((component, version), 1.0 if is_below(version, baseline) else 0.0)
        yield info
        yield below

    def _transaction_families(self, now: float) -> Iterator[Metric]:
        attempts = _family("posfleet_transactions_total")
        for key, count in self.transactions.attempts.items():
            store = key.store
            attempts.add_metric(
                (store.store, store.merchant, store.region, key.outcome, key.cause), count
            )
        yield attempts
        reversals = _family("posfleet_reversals")
        oldest = _family("posfleet_reversal_oldest_pending_age_seconds")
        for entry in self.transactions.reversals.stores(now):
            labels = (entry.store.store, entry.store.merchant, entry.store.region)
            reversals.add_metric((*labels, "pending"), entry.pending)
            reversals.add_metric((*labels, "failed"), entry.failed)
            if entry.oldest_pending_age_seconds is not None:
                oldest.add_metric(labels, entry.oldest_pending_age_seconds)
        yield reversals
        yield oldest
