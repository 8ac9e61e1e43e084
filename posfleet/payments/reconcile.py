"""Import an acquirer's settlement or reconciliation CSV file to close cases.

Each row names a sale (terminal id plus RRN, STAN or transaction id) and what happened to
it: ``reversed``, ``refunded`` or ``not_settled`` close the sale's open case (the customer
is not, or no longer, charged); ``settled`` is noted on the case (charged: a refund is
needed) and keeps it open. Column names and status words are configurable
(``payments.reconcile``, see docs/payments.md).

A row is applied whole or not at all: a row that does not parse is reported with its line
number and skipped. Importing the same file again changes nothing (every applied line is
remembered by its content). No cell may hold a full card number or track data: such a row is
refused with its line and column, and the value is never repeated in any message.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Final, TextIO

from posfleet.payments.config import ReconcileSettings
from posfleet.payments.model import Case, CaseStatus, CloseReason
from posfleet.payments.store import CaseStore
from posfleet.telemetry.card_data import FORBIDDEN_KEYS, find_card_data

_CLOSING: Final[dict[str, CloseReason]] = {
    "reversed": CloseReason.RECONCILED_REVERSED,
    "refunded": CloseReason.REFUNDED,
    "not_settled": CloseReason.RECONCILED_NOT_SETTLED,
}
# Columns that only ever hold card secrets: a file with one is refused as a whole.
_SECRET_COLUMNS: Final = FORBIDDEN_KEYS - {"pan", "cardnumber", "primaryaccountnumber"}


@dataclass(frozen=True, slots=True)
class RowError:
    """A line of the file that was not applied, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class SettlementRow:
    """One parsed row of a settlement file."""

    line: int
    terminal_id: str
    status: str
    stan: str | None = None
    rrn: str | None = None
    transaction_id: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    occurred_at: datetime | None = None

    def digest(self) -> str:
        """What identifies this line's content, whatever file or line it comes from."""
        text = "|".join(
            str(value or "")
            for value in (
                self.terminal_id,
                self.stan,
                self.rrn,
                self.transaction_id,
                self.amount_minor,
                self.currency,
                self.status,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(slots=True)
class ReconcileReport:
    """What an import did."""

    rows: int = 0
    closed: list[str] = field(default_factory=list)
    noted: list[str] = field(default_factory=list)
    unchanged: int = 0
    unmatched: int = 0
    errors: list[RowError] = field(default_factory=list)
    card_data_rows: int = 0

    def summary(self) -> str:
        return (
            f"{self.rows} rows: {len(self.closed)} cases closed, {len(self.noted)} settlements "
            f"noted, {self.unchanged} unchanged, {self.unmatched} without a case, "
            f"{len(self.errors)} refused"
        )


class FileRefused(ValueError):
    """The whole file is unusable (header problems); nothing was imported."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _amount(text: str, minor_units: bool) -> int:
    value = Decimal(text.replace(" ", ""))
    minor = value if minor_units else value * 100
    if minor != minor.to_integral_value() or minor < 0:
        raise InvalidOperation
    return int(minor)


class _Layout:
    """Where each value sits in the rows, from the header line."""

    def __init__(self, header: Sequence[str], settings: ReconcileSettings) -> None:
        names = [name.strip() for name in header]
        for name in names:
            if find_card_data(name) is not None:
                raise FileRefused(
                    RowError(1, "a column name looks like card data; the file is refused")
                )
            if name.lower().replace("_", "").replace("-", "").replace(" ", "") in _SECRET_COLUMNS:
                raise FileRefused(
                    RowError(
                        1,
                        f"column '{name}' holds card security data (PIN, CVV or track), "
                        "which must never be stored; remove it from the file",
                    )
                )
        lowered = {name.lower(): index for index, name in enumerate(names)}
        self.names = names
        self.index: dict[str, int] = {}
        missing = []
        for value, column in settings.columns.model_dump().items():
            if column is None:
                continue
            position = lowered.get(str(column).lower())
            if position is None:
                if value in ("terminal_id", "status"):
                    missing.append(f"'{column}' ({value})")
                continue
            self.index[value] = position
        if missing:
            raise FileRefused(RowError(1, f"missing column {', '.join(missing)}"))
        if not {"stan", "rrn", "transaction_id"} & set(self.index):
            raise FileRefused(
                RowError(1, "no column to find the sale by: map stan, rrn or transaction_id")
            )
        exempt = {column.lower() for column in settings.pan_exempt_columns}
        mapped_ids = {self.index[v] for v in ("stan", "rrn", "amount") if v in self.index}
        self.screened = [
            index
            for index, name in enumerate(names)
            if index not in mapped_ids and name.lower() not in exempt
        ]


def _row(
    cells: list[str], line: int, layout: _Layout, settings: ReconcileSettings
) -> SettlementRow:
    if len(cells) != len(layout.names):
        raise ValueError(f"{len(cells)} fields, the header has {len(layout.names)}")
    for index in layout.screened:
        if find_card_data(cells[index]) is not None:
            raise _CardData(layout.names[index])

    def cell(value: str) -> str | None:
        position = layout.index.get(value)
        text = cells[position].strip() if position is not None else ""
        return text or None

    terminal = cell("terminal_id")
    if terminal is None:
        raise ValueError("terminal_id is empty")
    word = (cell("status") or "").lower()
    status = settings.status_values.get(word)
    if status is None:
        known = ", ".join(sorted(settings.status_values))
        raise ValueError(f"status: not one of the configured words ({known})")
    stan, rrn, transaction_id = cell("stan"), cell("rrn"), cell("transaction_id")
    if stan is not None and not (len(stan) == 6 and stan.isdigit()):
        raise ValueError("stan: must be 6 digits")
    if rrn is not None and not (len(rrn) == 12 and rrn.isalnum() and rrn.isascii()):
        raise ValueError("rrn: must be 12 letters or digits")
    if stan is None and rrn is None and transaction_id is None:
        raise ValueError("no stan, rrn or transaction_id to find the sale by")
    amount = cell("amount")
    amount_minor = None
    if amount is not None:
        try:
            amount_minor = _amount(amount, settings.amount_in_minor_units)
        except InvalidOperation:
            unit = "minor units" if settings.amount_in_minor_units else "a decimal like 12.50"
            raise ValueError(f"amount: not {unit}") from None
    currency = cell("currency")
    if currency is not None and not (len(currency) == 3 and currency.isalpha()):
        raise ValueError("currency: must be a 3-letter ISO 4217 code")
    occurred = cell("occurred_at")
    occurred_at = None
    if occurred is not None:
        try:
            occurred_at = _parse_time(occurred)
        except ValueError:
            raise ValueError("occurred_at: not a date-time (RFC 3339)") from None
    return SettlementRow(
        line, terminal, status, stan, rrn, transaction_id, amount_minor,
        currency.upper() if currency else None, occurred_at,
    )


class _CardData(Exception):
    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


def read_rows(
    stream: TextIO, settings: ReconcileSettings
) -> Iterator[SettlementRow | RowError]:
    """Parsed rows and refused lines, in file order; :class:`FileRefused` for a bad header."""
    reader = csv.reader(stream, delimiter=settings.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FileRefused(RowError(1, "the file is empty")) from None
    except csv.Error as exc:
        raise FileRefused(RowError(1, f"not CSV: {exc}")) from None
    layout = _Layout(header, settings)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(start, f"not CSV: {exc}")
            continue
        if not any(cell.strip() for cell in cells):
            continue
        try:
            yield _row(cells, start, layout, settings)
        except _CardData as exc:
            yield RowError(
                start,
                f"column '{exc.column}' holds a full card number or track data; the row is "
                "refused (files may carry masked card numbers only)",
            )
        except ValueError as exc:
            yield RowError(start, str(exc))


def _match(store: CaseStore, row: SettlementRow) -> Case | None:
    cases = store.find_sale(
        row.terminal_id, transaction_id=row.transaction_id, rrn=row.rrn, stan=row.stan
    )
    if row.amount_minor is not None:
        cases = [case for case in cases if case.sale.amount_minor == row.amount_minor]
    when = row.occurred_at
    if when is not None and len(cases) > 1:
        # A STAN wraps after 999,999 sales: the closest in time is the one.
        cases.sort(key=lambda case: abs((case.sale.occurred_at - when).total_seconds()))
    return cases[0] if cases else None


def reconcile(
    store: CaseStore,
    rows: Iterator[SettlementRow | RowError],
    source: str,
    now: datetime,
) -> ReconcileReport:
    """Apply parsed rows to the case store (blocking); one transaction per row."""
    report = ReconcileReport()
    for row in rows:
        report.rows += 1
        if isinstance(row, RowError):
            report.errors.append(row)
            if "card number" in row.message:
                report.card_data_rows += 1
            continue
        case = _match(store, row)
        if case is None:
            report.unmatched += 1
            continue
        detail = f"{source} line {row.line}: {row.status}"
        key = f"reconcile:{row.digest()}"
        reason = _CLOSING.get(row.status)
        if reason is not None:
            if case.status is CaseStatus.OPEN and store.close(
                case.case_id, reason, now, detail, dedupe_key=key
            ):
                report.closed.append(case.case_id)
            else:
                report.unchanged += 1
        elif store.record_settlement(case.case_id, row.status, now, detail, key):
            report.noted.append(case.case_id)
        else:
            report.unchanged += 1
    return report
