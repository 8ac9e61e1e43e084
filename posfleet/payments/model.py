"""Charged-but-failed cases: what a case is, what happened to it, and why it closed.

Only masked card numbers ever enter these records (the telemetry contract refuses anything
else), and the evidence export reads from them, so no full card number can leave either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from posfleet.telemetry import TransactionEvent


class CaseKind(StrEnum):
    """Why a sale is suspected of having charged the customer although it failed."""

    REVERSAL_UNCONFIRMED = "reversal_unconfirmed"
    """Timed out or failed after the request left; no reversal confirmed in time although
    the terminal kept working."""
    REVERSAL_PENDING_IDLE = "reversal_pending_idle"
    """As above, and the terminal has sent nothing since: the reversal waits in its queue."""
    REVERSAL_FAILED = "reversal_failed"
    """The terminal gave up reversing the sale."""
    NEAR_DUPLICATE = "near_duplicate"
    """No reversal confirmed, and the staff ran the same card for the same amount again
    minutes later: the customer may have paid twice."""


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CloseReason(StrEnum):
    """How it became certain that the customer is not (or no longer) charged."""

    REVERSAL_CONFIRMED = "reversal_confirmed"
    RECONCILED_REVERSED = "reconciled_reversed"
    RECONCILED_NOT_SETTLED = "reconciled_not_settled"
    REFUNDED = "refunded"


class HistoryKind(StrEnum):
    """Entries in a case's history."""

    SALE = "sale"
    REVERSAL_ATTEMPT = "reversal_attempt"
    RETRY = "retry"
    OPENED = "opened"
    SETTLEMENT = "settlement"
    CLOSED = "closed"
    TICKET = "ticket"


@dataclass(frozen=True, slots=True)
class SaleFacts:
    """The suspect sale as the terminal reported it (masked card only)."""

    transaction_id: str
    terminal_id: str
    store_id: str
    merchant_id: str
    occurred_at: datetime
    amount_minor: int
    currency: str
    outcome: str
    operator_id: str | None = None
    stan: str | None = None
    rrn: str | None = None
    masked_pan: str | None = None
    host_response_code: str | None = None
    local_error: str | None = None
    reversal_state: str | None = None

    @classmethod
    def of(cls, event: TransactionEvent) -> SaleFacts:
        return cls(
            transaction_id=event.transaction_id,
            terminal_id=event.terminal_id,
            store_id=event.store_id,
            merchant_id=event.merchant_id,
            occurred_at=event.occurred_at,
            amount_minor=event.amount_minor,
            currency=event.currency,
            outcome=event.outcome.value,
            operator_id=event.operator_id,
            stan=event.stan,
            rrn=event.rrn,
            masked_pan=event.masked_pan,
            host_response_code=event.host_response_code,
            local_error=event.local_error.value if event.local_error else None,
            reversal_state=event.reversal_state.value if event.reversal_state else None,
        )


@dataclass(frozen=True, slots=True)
class Attempt:
    """One reversal attempt (or its result) the terminal reported."""

    at: datetime
    transaction_id: str
    state: str
    host_response_code: str | None = None
    local_error: str | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """An approved sale with the same masked card and amount soon after the suspect one."""

    at: datetime
    transaction_id: str
    stan: str | None = None
    rrn: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of a case's history."""

    at: datetime
    kind: HistoryKind
    state: str = ""
    transaction_id: str | None = None
    host_response_code: str | None = None
    local_error: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Case:
    """A charged-but-failed case as stored."""

    case_id: str
    kind: CaseKind
    status: CaseStatus
    sale: SaleFacts
    region: str
    opened_at: datetime
    closed_at: datetime | None = None
    close_reason: CloseReason | None = None
    settlement: str | None = None
    retry: Retry | None = None
    history: tuple[HistoryEntry, ...] = field(default_factory=tuple)


def case_id_of(terminal_id: str, transaction_id: str) -> str:
    """The case id of a sale: the same on every run and every copy, so a redelivered event
    never opens a second case."""
    digest = hashlib.sha256(f"{terminal_id}\n{transaction_id}".encode()).hexdigest()[:12]
    return f"pc-{digest}"
