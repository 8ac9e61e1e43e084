"""The case tracker's memory: suspect sales waiting for their reversal, bounded and expiring.

A sale that timed out, or failed after its request left the terminal, may have charged the
customer; it waits here until a reversal result arrives or its deadline (occurred_at plus
``reversal_grace_seconds``) passes. Everything is plain Python on the hot path, without I/O:
:meth:`CaseTracker.observe` and :meth:`CaseTracker.due` return what the engine must write.

Memory stays bounded over any amount of traffic: a suspect leaves at its result or its
deadline, at most ``max_entries`` wait at once (beyond, the oldest becomes a case early,
counted), and terminal activity older than ``expiry_seconds`` is forgotten.
"""

from __future__ import annotations

import heapq
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

from posfleet.payments.model import Attempt, CaseKind, Retry, SaleFacts
from posfleet.telemetry import TransactionEvent
from posfleet.telemetry.transaction import LocalError, Outcome, ReversalState

logger = logging.getLogger(__name__)

RESULT_STATES: Final = frozenset({ReversalState.CONFIRMED, ReversalState.FAILED})
WAITING_STATES: Final = frozenset({ReversalState.PENDING, ReversalState.SENT})

CardKey = tuple[str, str, int, str]
"""(store, masked card, amount, currency) of a sale, for spotting retries."""


def is_reversal_result(event: TransactionEvent) -> bool:
    """The event reports how a reversal ended (it is not a payment attempt of its own)."""
    return event.reversal_state in RESULT_STATES or event.outcome is Outcome.REVERSED


def is_suspect(event: TransactionEvent) -> bool:
    """The attempt failed after its request may have reached the host, so the customer may
    be charged until a reversal is confirmed."""
    return (
        event.outcome is Outcome.TIMEOUT
        or event.local_error is LocalError.NETWORK_TIMEOUT
        or event.reversal_state in WAITING_STATES
    )


def attempt_of(event: TransactionEvent) -> Attempt:
    return Attempt(
        at=event.occurred_at,
        transaction_id=event.transaction_id,
        state=event.reversal_state.value if event.reversal_state else event.outcome.value,
        host_response_code=event.host_response_code,
        local_error=event.local_error.value if event.local_error else None,
    )


@dataclass(slots=True, eq=False)
class Suspect:
    """A suspect sale in memory."""

    sale: SaleFacts
    at: float
    deadline: float
    attempts: list[Attempt] = field(default_factory=list)
    retry: Retry | None = None
    done: bool = False

    def matches(self, event: TransactionEvent) -> bool:
        """The result event is about this sale: its id extends the sale's
        (``T-1-000812-R1``), or it carries the sale's RRN or STAN."""
        sale = self.sale
        tid = event.transaction_id
        if tid == sale.transaction_id or tid.startswith(sale.transaction_id + "-"):
            return True
        if event.rrn is not None and event.rrn == sale.rrn:
            return True
        return event.stan is not None and event.stan == sale.stan


@dataclass(frozen=True, slots=True)
class OpenCase:
    """A suspect sale became a case."""

    kind: CaseKind
    sale: SaleFacts
    attempts: tuple[Attempt, ...]
    retry: Retry | None
    detail: str


@dataclass(frozen=True, slots=True)
class ResultWithoutSuspect:
    """A reversal result for no sale in memory: the engine looks among the open cases."""

    event: TransactionEvent


Action = OpenCase | ResultWithoutSuspect


@dataclass(frozen=True, slots=True)
class WaitingSale:
    """A suspect sale still waiting, as saved across a restart."""

    sale: SaleFacts
    at: float
    deadline: float
    attempts: tuple[Attempt, ...]
    retry: Retry | None


@dataclass(slots=True)
class TrackerStats:
    """Counts of what the tracker did, for the metrics."""

    suspects: int = 0
    confirmed_in_time: int = 0
    evicted: int = 0
    retries_seen: int = 0


class CaseTracker:
    """Follows suspect sales until they are reversed or become cases."""

    def __init__(
        self,
        *,
        grace_seconds: float,
        duplicate_window_seconds: float,
        max_entries: int,
        expiry_seconds: float,
    ) -> None:
        self._grace = grace_seconds
        self._window = duplicate_window_seconds
        self._max = max_entries
        self._expiry = expiry_seconds
        self._suspects: OrderedDict[tuple[str, str], Suspect] = OrderedDict()
        self._by_terminal: dict[str, list[Suspect]] = {}
        self._by_card: dict[CardKey, Suspect] = {}
        self._deadlines: list[tuple[float, int, Suspect]] = []
        self._sequence = 0
        self._last_seen: dict[str, float] = {}
        self._last_expiry = 0.0
        self.stats = TrackerStats()

    def __len__(self) -> int:
        return len(self._suspects)

    @property
    def terminals_tracked(self) -> int:
        return len(self._last_seen)

    def observe(self, event: TransactionEvent) -> list[Action]:
        """Take in one event; return the cases to open and the results to look up."""
        at = event.occurred_at.timestamp()
        terminal = event.terminal_id
        seen = self._last_seen.get(terminal)
        if seen is None or at > seen:
            self._last_seen[terminal] = at
        if is_reversal_result(event):
            return self._result(event)
        if is_suspect(event):
            return self._suspect(event, at)
        if event.outcome is Outcome.APPROVED and event.masked_pan:
            self._maybe_retry(event, at)
        return []

    def _find(self, event: TransactionEvent) -> Suspect | None:
        waiting = self._by_terminal.get(event.terminal_id)
        if not waiting:
            return None
        # The id is the surest link; RRN and STAN only when no id matches.
        tid = event.transaction_id
        for suspect in waiting:
            sale_id = suspect.sale.transaction_id
            if tid == sale_id or tid.startswith(sale_id + "-"):
                return suspect
        return next((suspect for suspect in waiting if suspect.matches(event)), None)

    def _result(self, event: TransactionEvent) -> list[Action]:
        suspect = self._find(event)
        if suspect is None:
            return [ResultWithoutSuspect(event)]
        suspect.attempts.append(attempt_of(event))
        self._remove(suspect)
        if event.reversal_state is ReversalState.FAILED:
            return [self._case(suspect, CaseKind.REVERSAL_FAILED, "the terminal gave up")]
        self.stats.confirmed_in_time += 1
        return []

    def _suspect(self, event: TransactionEvent, at: float) -> list[Action]:
        key = (event.terminal_id, event.transaction_id)
        known = self._suspects.get(key)
        if known is not None:  # pending, then sent: the same sale
            known.attempts.append(attempt_of(event))
            return []
        suspect = Suspect(SaleFacts.of(event), at, at + self._grace)
        if event.reversal_state is not None:
            suspect.attempts.append(attempt_of(event))
        self._suspects[key] = suspect
        self._by_terminal.setdefault(event.terminal_id, []).append(suspect)
        if event.masked_pan:
            self._by_card[self._card_key(suspect.sale)] = suspect
        self._sequence += 1
        heapq.heappush(self._deadlines, (suspect.deadline, self._sequence, suspect))
        self.stats.suspects += 1
        if len(self._deadlines) > 2 * self._max:
            # Removed suspects wait in the heap until their deadline; drop them now.
            self._deadlines = [item for item in self._deadlines if not item[2].done]
            heapq.heapify(self._deadlines)
        actions: list[Action] = []
        while len(self._suspects) > self._max:
            _, oldest = self._suspects.popitem(last=False)
            self._remove(oldest)
            self.stats.evicted += 1
            logger.warning(
                "%s: more than %d sales wait for their reversal; %s becomes a case early",
                oldest.sale.terminal_id,
                self._max,
                oldest.sale.transaction_id,
            )
            actions.append(self._expired_case(oldest, "opened early: too many sales waiting"))
        return actions

    @staticmethod
    def _card_key(sale: SaleFacts) -> CardKey:
        return (sale.store_id, sale.masked_pan or "", sale.amount_minor, sale.currency)

    def _maybe_retry(self, event: TransactionEvent, at: float) -> None:
        key = (event.store_id, event.masked_pan or "", event.amount_minor, event.currency)
        suspect = self._by_card.get(key)
        if suspect is None or suspect.done or suspect.retry is not None:
            return
        if 0 <= at - suspect.at <= self._window:
            suspect.retry = Retry(event.occurred_at, event.transaction_id, event.stan, event.rrn)
            self.stats.retries_seen += 1

    def _remove(self, suspect: Suspect) -> None:
        suspect.done = True
        sale = suspect.sale
        self._suspects.pop((sale.terminal_id, sale.transaction_id), None)
        waiting = self._by_terminal.get(sale.terminal_id)
        if waiting is not None:
            waiting.remove(suspect)
            if not waiting:
                del self._by_terminal[sale.terminal_id]
        if sale.masked_pan:
            key = self._card_key(sale)
            if self._by_card.get(key) is suspect:
                del self._by_card[key]

    def _case(self, suspect: Suspect, kind: CaseKind, detail: str) -> OpenCase:
        return OpenCase(kind, suspect.sale, tuple(suspect.attempts), suspect.retry, detail)

    def _expired_case(self, suspect: Suspect, detail: str) -> OpenCase:
        if suspect.retry is not None:
            return self._case(suspect, CaseKind.NEAR_DUPLICATE, detail)
        if self._last_seen.get(suspect.sale.terminal_id, suspect.at) > suspect.at:
            return self._case(suspect, CaseKind.REVERSAL_UNCONFIRMED, detail)
        return self._case(suspect, CaseKind.REVERSAL_PENDING_IDLE, detail)

    def due(self, now: float) -> list[OpenCase]:
        """The suspects whose deadline has passed at ``now``, as cases; forgets them."""
        opened: list[OpenCase] = []
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, _, suspect = heapq.heappop(deadlines)
            if suspect.done:
                continue
            self._remove(suspect)
            opened.append(self._expired_case(suspect, "no reversal confirmed in time"))
        if now - self._last_expiry >= self._expiry / 24:
            self._forget_idle_terminals(now)
        return opened

    def waiting(self) -> list[WaitingSale]:
        """Every suspect still waiting, oldest first (saved at shutdown)."""
        return [
            WaitingSale(s.sale, s.at, s.deadline, tuple(s.attempts), s.retry)
            for s in self._suspects.values()
        ]

    def restore(self, saved: WaitingSale) -> None:
        """Take back a suspect saved at shutdown, with its original deadline."""
        sale = saved.sale
        key = (sale.terminal_id, sale.transaction_id)
        if key in self._suspects:
            return
        suspect = Suspect(sale, saved.at, saved.deadline, list(saved.attempts), saved.retry)
        self._suspects[key] = suspect
        self._by_terminal.setdefault(sale.terminal_id, []).append(suspect)
        if sale.masked_pan:
            self._by_card[self._card_key(sale)] = suspect
        self._sequence += 1
        heapq.heappush(self._deadlines, (suspect.deadline, self._sequence, suspect))
        seen = self._last_seen.get(sale.terminal_id)
        if seen is None or saved.at > seen:
            self._last_seen[sale.terminal_id] = saved.at

    def _forget_idle_terminals(self, now: float) -> None:
        self._last_expiry = now
        horizon = now - self._expiry
        stale = [terminal for terminal, at in self._last_seen.items() if at < horizon]
        for terminal in stale:
            if terminal not in self._by_terminal:
                del self._last_seen[terminal]
