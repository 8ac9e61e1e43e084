"""Evidence export: the sale and every reversal attempt, as JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from posfleet.payments.evidence import CSV_COLUMNS, evidence_csv, evidence_json
from tests.payments.support import Clock, make_engine, reversal, timeout


async def test_a_case_exports_with_its_sale_and_attempts(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, Clock())
    await engine.publish_transaction(
        timeout("T-1-000001", rrn="633012345678", operator_id="cashier-07")
    )
    await engine.publish_transaction(reversal("T-1-000001", "failed", seconds=400, attempt=3))
    [listed] = engine.store.list_cases()
    case = engine.store.get(listed.case_id)
    assert case is not None
    data = json.loads(evidence_json(case))
    assert data["case_id"] == case.case_id
    assert data["kind"] == "reversal_failed"
    expected_sale = {
        "terminal_id": "T-1",
        "store_id": "S-1",
        "region": "eu-west",
        "operator_id": "cashier-07",
        "occurred_at": "2026-11-25T08:00:00Z",
        "amount_minor": 1250,
        "amount": "12.50 EUR",
        "currency": "EUR",
        "stan": "000812",
        "rrn": "633012345678",
        "masked_pan": "476173******0010",
        "local_error": "network_timeout",
    }
    assert {key: data["sale"][key] for key in expected_sale} == expected_sale
    attempts = [entry for entry in data["history"] if entry["event"] == "reversal_attempt"]
    assert [(a["state"], a["transaction_id"]) for a in attempts] == [
        ("pending", "T-1-000001"), ("failed", "T-1-000001-R3"),
    ]
    rows = list(csv.DictReader(io.StringIO(evidence_csv(case))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row["event"] for row in rows] == ["sale", "reversal_attempt", "reversal_attempt",
                                              "opened"]
    assert {row["amount"] for row in rows} == {"12.50"}
    assert {row["rrn"] for row in rows} == {"633012345678"}
    assert rows[2]["event_local_error"] == "network_down"
