"""Payment attempts per store, by outcome and cause group, plus the stores' open reversals.

Counting per store rather than per terminal keeps the series count at stores x outcomes x
causes that actually occur. Events that report a reversal's result (``reversal_state``
confirmed or failed) are not attempts: they only move the reversal tracker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from posfleet.exporters.derived.causes import CauseGroup, cause_of
from posfleet.exporters.derived.reversals import RESULT_STATES, ReversalTracker, StoreKey
from posfleet.telemetry import TransactionEvent


@dataclass(frozen=True, slots=True)
class AttemptKey:
    """Labels of one ``posfleet_transactions_total`` series."""

    store: StoreKey
    outcome: str
    cause: str


class TransactionCounter:
    """Counts attempts and follows reversals; ``regions`` maps store ids to regions and
    ``classify`` files an attempt under its cause group (per acquirer, see payments)."""

    def __init__(
        self,
        regions: Mapping[str, str],
        failed_reversal_retention_seconds: float,
        now: Callable[[], float],
        classify: Callable[[TransactionEvent], CauseGroup] = cause_of,
    ) -> None:
        self._regions = regions
        self._now = now
        self._classify = classify
        self.attempts: dict[AttemptKey, int] = {}
        self.reversals = ReversalTracker(failed_reversal_retention_seconds)

    def observe(self, event: TransactionEvent) -> None:
        """Count one event."""
        store = StoreKey(event.store_id, event.merchant_id, self._regions.get(event.store_id, ""))
        self.reversals.observe(event, store, self._now())
        if event.reversal_state in RESULT_STATES:
            return
        key = AttemptKey(store, event.outcome.value, self._classify(event).value)
        self.attempts[key] = self.attempts.get(key, 0) + 1
