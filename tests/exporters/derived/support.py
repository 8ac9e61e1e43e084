"""Builders shared by the derived-metrics tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from posfleet.telemetry import StatusSnapshot, TransactionEvent

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def snapshot(
    minute: float,
    lines: int | None,
    paper: str = "ok",
    *,
    terminal: str = "T-0451",
    model: str | None = None,
    firmware: dict[str, Any] | None = None,
) -> StatusSnapshot:
    data: dict[str, Any] = {
        "terminal_id": terminal,
        "merchant_id": "acme",
        "store_id": "S-012",
        "region": "eu-west",
        "observed_at": (START + timedelta(minutes=minute)).isoformat(),
        "printer": {"paper": paper, "receipt_lines_printed_total": lines},
    }
    if model is not None:
        data["model"] = model
    if firmware is not None:
        data["firmware"] = firmware
    return StatusSnapshot.model_validate(data)


def transaction(
    transaction_id: str,
    outcome: str,
    *,
    minute: float = 0.0,
    terminal: str = "T-0451",
    store: str = "S-012",
    **fields: Any,
) -> TransactionEvent:
    return TransactionEvent.model_validate(
        {
            "transaction_id": transaction_id,
            "terminal_id": terminal,
            "merchant_id": "acme",
            "store_id": store,
            "occurred_at": (START + timedelta(minutes=minute)).isoformat(),
            "amount_minor": 1250,
            "currency": "EUR",
            "outcome": outcome,
            **fields,
        }
    )


class StepClock:
    """Wall time set by the test (the derived metrics only read ``now``)."""

    def __init__(self, at: datetime = START) -> None:
        self.at = at

    def monotonic(self) -> float:
        return self.at.timestamp()

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
