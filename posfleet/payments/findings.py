"""Findings: an operator whose input-error rate is well above the store's other operators.

Input errors are the cashier's own: the terminal's ``operator_input_error`` and host codes
filed under ``operator_error`` (invalid amount, invalid transaction). Customers cancelling
or pulling their card out count for nobody. Each operator is compared with the pooled rate
of the other operators of the same store over the last ``window_days`` days, so a store
where everyone struggles (a confusing terminal) flags nobody, while the one cashier who
mistypes amounts three times as often as the others is flagged: training helps.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from posfleet.payments.config import TrainingSettings
from posfleet.payments.groups import CauseGroup
from posfleet.telemetry import TransactionEvent
from posfleet.telemetry.transaction import LocalError

OperatorKey = tuple[str, str, str]
"""(store, merchant, operator)."""


def is_input_error(event: TransactionEvent, group: CauseGroup) -> bool:
    """The cashier entered something wrong (not the customer, not the device)."""
    if event.local_error is not None:
        return event.local_error is LocalError.OPERATOR_INPUT_ERROR
    return group is CauseGroup.OPERATOR_ERROR


@dataclass(frozen=True, slots=True)
class TrainingFinding:
    """"Training recommended" for one operator of one store."""

    store_id: str
    merchant_id: str
    operator_id: str
    attempts: int
    input_errors: int
    peer_attempts: int
    peer_input_errors: int

    @property
    def rate(self) -> float:
        return self.input_errors / self.attempts

    @property
    def peer_rate(self) -> float:
        return self.peer_input_errors / self.peer_attempts if self.peer_attempts else 0.0

    def text(self) -> str:
        return (
            f"store {self.store_id}: operator {self.operator_id} made input errors in "
            f"{self.rate:.1%} of {self.attempts} attempts, the store's other operators in "
            f"{self.peer_rate:.1%} of {self.peer_attempts}: training recommended"
        )


class OperatorFindings:
    """Per-operator daily counts of attempts and input errors, and the findings from them."""

    def __init__(self, settings: TrainingSettings) -> None:
        self._settings = settings
        # Per operator: [day, attempts, input errors] for each recent day with attempts.
        self._days: dict[OperatorKey, deque[list[int]]] = {}

    def __len__(self) -> int:
        return len(self._days)

    def observe(self, event: TransactionEvent, group: CauseGroup) -> None:
        """Count one attempt (not a reversal result) of an identified operator."""
        if event.operator_id is None:
            return
        key = (event.store_id, event.merchant_id, event.operator_id)
        day = event.occurred_at.toordinal()
        days = self._days.get(key)
        if days is None:
            days = self._days[key] = deque(maxlen=self._settings.window_days)
        if not days or days[-1][0] != day:
            if days and day < days[-1][0]:
                return  # a late event for a day already rolled over: not worth re-sorting
            days.append([day, 0, 0])
        bucket = days[-1]
        bucket[1] += 1
        if is_input_error(event, group):
            bucket[2] += 1

    def prune(self, now: datetime) -> None:
        """Forget operators without attempts in the window (call from the event loop)."""
        first_day = now.toordinal() - self._settings.window_days + 1
        quiet = [key for key, days in self._days.items() if not days or days[-1][0] < first_day]
        for key in quiet:
            del self._days[key]

    def findings(self, now: datetime) -> list[TrainingFinding]:
        """Operators to train, per store, as of ``now`` (reads only: safe from a scrape)."""
        settings = self._settings
        first_day = now.toordinal() - settings.window_days + 1
        totals: dict[OperatorKey, tuple[int, int]] = {}
        for key, days in list(self._days.items()):
            attempts = errors = 0
            for day, day_attempts, day_errors in list(days):
                if day >= first_day:
                    attempts += day_attempts
                    errors += day_errors
            if attempts:
                totals[key] = (attempts, errors)
        by_store: dict[tuple[str, str], tuple[int, int]] = {}
        for (store, merchant, _), (attempts, errors) in totals.items():
            seen = by_store.get((store, merchant), (0, 0))
            by_store[(store, merchant)] = (seen[0] + attempts, seen[1] + errors)
        found = []
        for (store, merchant, operator), (attempts, errors) in sorted(totals.items()):
            store_attempts, store_errors = by_store[(store, merchant)]
            peer_attempts, peer_errors = store_attempts - attempts, store_errors - errors
            if (
                attempts < settings.min_attempts
                or errors < settings.min_input_errors
                or peer_attempts < settings.min_attempts
            ):
                continue
            # Half an error keeps a spotless peer group from dividing by zero.
            peer_rate = max(peer_errors, 0.5) / peer_attempts
            if errors / attempts >= settings.peer_ratio * peer_rate:
                found.append(
                    TrainingFinding(
                        store, merchant, operator, attempts, errors, peer_attempts, peer_errors
                    )
                )
        return found
