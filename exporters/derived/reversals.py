"""Open reversals per store: queued or sent and not yet confirmed, or failed.

A timed-out sale leaves a reversal queued on the terminal (``reversal_state: pending``);
the terminal later reports its result, usually in a separate event whose transaction id
extends the sale's (``T-0451-000812-R1``). A result resolves the open reversal whose id it
matches (the same id or a prefix of it), else the terminal's oldest one, since terminals
send queued reversals in order. A failed reversal means a customer may have been charged
for a sale shown as failed: it stays counted for ``failed_retention_seconds`` so someone
can act on it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from posfleet.telemetry import TransactionEvent
from posfleet.telemetry.transaction import ReversalState

logger = logging.getLogger(__name__)

MAX_OPEN_PER_TERMINAL: Final = 50
"""A terminal holds few queued reversals; beyond this the oldest is forgotten (logged)."""

OPEN_STATES: Final = frozenset({ReversalState.PENDING, ReversalState.SENT})
RESULT_STATES: Final = frozenset({ReversalState.CONFIRMED, ReversalState.FAILED})


@dataclass(frozen=True, slots=True)
class StoreKey:
    """Labels of a store's series."""

    store: str
    merchant: str
    region: str


@dataclass(frozen=True, slots=True)
class _Open:
    transaction_id: str
    store: StoreKey
    since: float


@dataclass(frozen=True, slots=True)
class StoreReversals:
    """A store's open reversals at one moment."""

    store: StoreKey
    pending: int
    failed: int
    oldest_pending_age_seconds: float | None


class ReversalTracker:
    """Follows reversal states from transaction events."""

    def __init__(self, failed_retention_seconds: float) -> None:
        self._retention = failed_retention_seconds
        self._open: dict[str, deque[_Open]] = {}
        self._failed: deque[tuple[float, StoreKey]] = deque()
        self._stores: set[StoreKey] = set()

    def observe(self, event: TransactionEvent, store: StoreKey, received_at: float) -> None:
        """Take in one event's reversal state (events without one are ignored)."""
        state = event.reversal_state
        if state is None or state is ReversalState.NOT_NEEDED:
            return
        self._stores.add(store)
        if state in OPEN_STATES:
            self._add_open(event, store)
            return
        self._resolve(event)
        if state is ReversalState.FAILED:
            self._failed.append((received_at, store))

    def _add_open(self, event: TransactionEvent, store: StoreKey) -> None:
        queue = self._open.setdefault(event.terminal_id, deque())
        if any(item.transaction_id == event.transaction_id for item in queue):
            return  # sent after pending: still the same open reversal, same age
        if len(queue) >= MAX_OPEN_PER_TERMINAL:
            forgotten = queue.popleft()
            logger.warning(
                "%s: more than %d open reversals; forgetting %s",
                event.terminal_id,
                MAX_OPEN_PER_TERMINAL,
                forgotten.transaction_id,
            )
        queue.append(_Open(event.transaction_id, store, event.occurred_at.timestamp()))

    def _resolve(self, event: TransactionEvent) -> None:
        queue = self._open.get(event.terminal_id)
        if not queue:
            return
        match = next(
            (item for item in queue if event.transaction_id.startswith(item.transaction_id)),
            queue[0],
        )
        queue.remove(match)
        if not queue:
            del self._open[event.terminal_id]

    def stores(self, now: float) -> Iterator[StoreReversals]:
        """Every store that has reported reversals, with its open ones at ``now``."""
        while self._failed and now - self._failed[0][0] > self._retention:
            self._failed.popleft()
        pending: dict[StoreKey, int] = {}
        oldest: dict[StoreKey, float] = {}
        for queue in self._open.values():
            for item in queue:
                pending[item.store] = pending.get(item.store, 0) + 1
                oldest[item.store] = min(oldest.get(item.store, item.since), item.since)
        failed: dict[StoreKey, int] = {}
        for _, store in self._failed:
            failed[store] = failed.get(store, 0) + 1
        for store in sorted(self._stores, key=lambda key: key.store):
            since = oldest.get(store)
            yield StoreReversals(
                store,
                pending.get(store, 0),
                failed.get(store, 0),
                None if since is None else max(0.0, now - since),
            )
