"""Reconciliation files: column mapping, refused lines with their numbers, card data never
accepted nor echoed, settlement noted, idempotent re-import."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from posfleet.payments.cases import CaseEngine
from posfleet.payments.config import ReconcileColumns, ReconcileSettings
from posfleet.payments.model import CaseStatus, HistoryKind
from posfleet.payments.reconcile import FileRefused, ReconcileReport, read_rows, reconcile
from tests.payments.support import (
    FULL_PAN,
    Clock,
    assert_no_pan_in_files,
    at,
    make_engine,
    reversal,
    timeout,
)


async def two_cases(tmp_path: Path) -> CaseEngine:
    engine = make_engine(tmp_path, Clock())
    await engine.publish_transaction(timeout("T-1-000001", stan="000101", rrn="633000000101"))
    await engine.publish_transaction(reversal("T-1-000001", "failed", attempt=3))
    await engine.publish_transaction(timeout("T-1-000002", stan="000102", amount_minor=990))
    await engine.publish_transaction(reversal("T-1-000002", "failed", attempt=3))
    return engine


def run(
    engine: CaseEngine, text: str, settings: ReconcileSettings | None = None
) -> ReconcileReport:
    rows = read_rows(io.StringIO(text), settings or ReconcileSettings())
    return reconcile(engine.store, rows, "file.csv", at(7200))


async def test_mapped_columns_close_and_note_cases(tmp_path: Path) -> None:
    engine = await two_cases(tmp_path)
    settings = ReconcileSettings(
        columns=ReconcileColumns(
            terminal_id="TID", stan="Trace", rrn="RRN", amount="Amount (cents)",
            currency="Cur", status="Result", transaction_id=None, occurred_at=None,
        ),
        status_values={"REV": "reversed", "SETTLED": "settled"},
        delimiter=";",
        amount_in_minor_units=True,
    )
    text = (
        "TID;Trace;RRN;Amount (cents);Cur;Result\n"
        "T-1;;633000000101;1250;EUR;rev\n"
        "T-1;000102;;990;EUR;settled\n"
    )
    report = run(engine, text, settings)
    assert report.errors == []
    assert len(report.closed) == 1
    assert len(report.noted) == 1
    noted = engine.store.get(report.noted[0])
    assert noted is not None
    assert noted.status is CaseStatus.OPEN  # settled: the customer paid, a refund is due
    assert noted.settlement == "settled"
    assert noted.history[-1].kind is HistoryKind.SETTLEMENT
    again = run(engine, text, settings)
    assert (again.closed, again.noted, again.unchanged) == ([], [], 2)


async def test_bad_rows_are_reported_with_line_numbers_and_skipped(tmp_path: Path) -> None:
    engine = await two_cases(tmp_path)
    text = (
        "terminal_id,stan,amount,currency,status\n"
        "T-1,000101,12.50,EUR,lost\n"  # 2: unknown status word
        "T-1,000101,12.5x,EUR,reversed\n"  # 3: amount
        "T-1,000101,12.50,EURO,reversed\n"  # 4: currency
        '"T-1,000101\n'  # 5: an unterminated quote swallows the rest...
    )
    report = run(engine, text)
    lines = [error.line for error in report.errors]
    assert lines == [2, 3, 4, 5]
    assert "status" in report.errors[0].message
    assert "amount" in report.errors[1].message
    assert report.closed == []
    text = "terminal_id,stan,amount,currency,status\n\nT-1,000101,12.50,EUR,reversed\n"
    good = run(engine, text)
    assert len(good.closed) == 1
    assert good.errors == []


async def test_a_full_card_number_is_refused_by_line_and_never_echoed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    engine = await two_cases(tmp_path)
    text = (
        "terminal_id,stan,card_number,amount,currency,status\n"
        "T-1,000101,476173******0010,12.50,EUR,reversed\n"
        f"T-1,000102,{FULL_PAN},9.90,EUR,reversed\n"
        f"T-1,000102,;{FULL_PAN}=2512101,9.90,EUR,reversed\n"
    )
    report = run(engine, text)
    assert [(error.line, "card_number" in error.message) for error in report.errors] == [
        (3, True), (4, True),
    ]
    assert report.card_data_rows == 2
    assert len(report.closed) == 1  # the masked line is fine
    messages = " ".join(str(error) for error in report.errors) + caplog.text
    assert FULL_PAN not in messages
    engine.store.dispose()
    assert_no_pan_in_files(tmp_path)


def test_a_file_with_a_cvv_column_or_no_key_column_is_refused_whole() -> None:
    with pytest.raises(FileRefused, match="line 1: column 'CVV2' holds card security data"):
        list(read_rows(io.StringIO("terminal_id,stan,status,CVV2\n"), ReconcileSettings()))
    with pytest.raises(FileRefused, match="missing column 'status'"):
        list(read_rows(io.StringIO("terminal_id,stan\nT-1,000001\n"), ReconcileSettings()))
    with pytest.raises(FileRefused, match="no column to find the sale by"):
        list(read_rows(io.StringIO("terminal_id,status\n"), ReconcileSettings()))
