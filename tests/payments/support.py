"""Events, an engine on a temporary SQLite file and a ticket channel that records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from posfleet.payments.cases import CaseEngine
from posfleet.payments.classification import Classifier, builtin_table
from posfleet.payments.config import PaymentsSettings
from posfleet.payments.model import Case
from posfleet.payments.store import CaseStore
from posfleet.payments.tickets import TicketChannel, TicketError
from posfleet.telemetry import TransactionEvent

START = 1_795_593_600.0  # 2026-11-25 08:00 UTC
FULL_PAN = "4761739001010010"  # a Visa test card number (Luhn-valid)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(START + seconds, UTC)


def event(
    transaction_id: str,
    outcome: str = "approved",
    *,
    seconds: float = 0.0,
    terminal: str = "T-1",
    store: str = "S-1",
    merchant: str = "acme",
    **fields: Any,
) -> TransactionEvent:
    data: dict[str, Any] = {
        "transaction_id": transaction_id,
        "terminal_id": terminal,
        "merchant_id": merchant,
        "store_id": store,
        "occurred_at": at(seconds).isoformat(),
        "amount_minor": 1250,
        "currency": "EUR",
        "outcome": outcome,
        **fields,
    }
    return TransactionEvent.model_validate(data)


def timeout(transaction_id: str, seconds: float = 0.0, **fields: Any) -> TransactionEvent:
    base: dict[str, Any] = {
        "local_error": "network_timeout",
        "reversal_state": "pending",
        "stan": "000812",
        "masked_pan": "476173******0010",
    }
    return event(transaction_id, "timeout", seconds=seconds, **{**base, **fields})


def reversal(
    original: str, state: str = "confirmed", seconds: float = 60.0, attempt: int = 1, **fields: Any
) -> TransactionEvent:
    outcome = "reversed" if state == "confirmed" else "failed"
    extra: dict[str, Any] = {"host_response_code": "00"} if state == "confirmed" else {
        "local_error": "network_down"
    }
    return event(
        f"{original}-R{attempt}", outcome, seconds=seconds, amount_minor=0,
        reversal_state=state, **{**extra, **fields},
    )


class RecordingTickets:
    """A ticket channel that keeps what it was sent, or fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bool]] = []
        self.failing = False
        self.closed = False

    async def send(self, case: Case, firing: bool) -> None:
        if self.failing:
            raise TicketError("bridge down (test)")
        self.sent.append((case.case_id, firing))

    async def close(self) -> None:
        self.closed = True


class Clock:
    """Settable clock returning aware datetimes."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds

    def __call__(self) -> datetime:
        return at(self.seconds)


def make_engine(
    directory: Path,
    clock: Callable[[], datetime],
    *,
    tickets: TicketChannel | None = None,
    settings: PaymentsSettings | None = None,
    classifier: Classifier | None = None,
) -> CaseEngine:
    return CaseEngine(
        settings or PaymentsSettings(reversal_grace_seconds=900, duplicate_window_seconds=600),
        CaseStore.open(str(directory / "cases.sqlite3")),
        classifier or Classifier(builtin_table("iso8583")),
        tickets=tickets,
        regions={"S-1": "eu-west"},
        clock=clock,
    )


def assert_no_pan_in_files(directory: Path, *, except_: Path | None = None) -> None:
    """No file under ``directory`` (but ``except_``) holds the full card number."""
    for path in directory.rglob("*"):
        if path.is_file() and path != except_:
            assert FULL_PAN.encode() not in path.read_bytes(), path
