"""Evidence for the customer's complaint to the bank: one case as JSON or CSV.

Both carry the sale (terminal, store, time, amount, currency, STAN, RRN, masked card,
response) and every entry of its history (each reversal attempt, a retry by the staff,
settlement lines, opening and closing). Only the masked card number exists in the store, so
only it can appear here.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any, Final

from posfleet.payments.model import Case
from posfleet.payments.tickets import money

CSV_COLUMNS: Final = (
    "case_id",
    "kind",
    "status",
    "terminal_id",
    "store_id",
    "merchant_id",
    "transaction_id",
    "occurred_at",
    "amount",
    "currency",
    "stan",
    "rrn",
    "masked_pan",
    "host_response_code",
    "local_error",
    "event_at",
    "event",
    "event_state",
    "event_transaction_id",
    "event_host_response_code",
    "event_local_error",
    "event_detail",
)
"""One row per history entry, each repeating the sale, so a spreadsheet filter keeps context."""


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def evidence(case: Case) -> dict[str, Any]:
    """The case as a JSON-ready dictionary."""
    sale = case.sale
    return {
        "case_id": case.case_id,
        "kind": case.kind.value,
        "status": case.status.value,
        "opened_at": _time(case.opened_at),
        "closed_at": _time(case.closed_at),
        "close_reason": case.close_reason.value if case.close_reason else None,
        "settlement": case.settlement,
        "sale": {
            "transaction_id": sale.transaction_id,
            "terminal_id": sale.terminal_id,
            "store_id": sale.store_id,
            "merchant_id": sale.merchant_id,
            "region": case.region,
            "operator_id": sale.operator_id,
            "occurred_at": _time(sale.occurred_at),
            "amount_minor": sale.amount_minor,
            "amount": money(sale.amount_minor, sale.currency),
            "currency": sale.currency,
            "outcome": sale.outcome,
            "stan": sale.stan,
            "rrn": sale.rrn,
            "masked_pan": sale.masked_pan,
            "host_response_code": sale.host_response_code,
            "local_error": sale.local_error,
            "reversal_state": sale.reversal_state,
        },
        "retry": None
        if case.retry is None
        else {
            "transaction_id": case.retry.transaction_id,
            "occurred_at": _time(case.retry.at),
            "stan": case.retry.stan,
            "rrn": case.retry.rrn,
        },
        "history": [
            {
                "at": _time(entry.at),
                "event": entry.kind.value,
                "state": entry.state,
                "transaction_id": entry.transaction_id,
                "host_response_code": entry.host_response_code,
                "local_error": entry.local_error,
                "detail": entry.detail,
            }
            for entry in case.history
        ],
    }


def evidence_json(case: Case) -> str:
    return json.dumps(evidence(case), indent=2, ensure_ascii=False) + "\n"


def evidence_csv(case: Case) -> str:
    sale = case.sale
    head = [
        case.case_id,
        case.kind.value,
        case.status.value,
        sale.terminal_id,
        sale.store_id,
        sale.merchant_id,
        sale.transaction_id,
        _time(sale.occurred_at),
        f"{sale.amount_minor // 100}.{sale.amount_minor % 100:02d}",
        sale.currency,
        sale.stan or "",
        sale.rrn or "",
        sale.masked_pan or "",
        sale.host_response_code or "",
        sale.local_error or "",
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in case.history:
        writer.writerow(
            [
                *head,
                _time(entry.at),
                entry.kind.value,
                entry.state,
                entry.transaction_id or "",
                entry.host_response_code or "",
                entry.local_error or "",
                entry.detail,
            ]
        )
    return out.getvalue()
