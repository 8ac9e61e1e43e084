"""The case store: charged-but-failed cases and their history in SQLite or PostgreSQL.

Methods block (SQLAlchemy Core); the engine calls them in a thread. Every change is one
transaction, so a case is never half-written, and every write is idempotent: opening a case
twice, recording the same attempt or the same settlement line twice changes nothing.

Tickets go through the same rows: opening a case marks its ticket ``due_open``, closing it
``due_resolve``; whoever delivers tickets (the engine's sweep, or ``posfleet reconcile``)
picks up due rows and marks them ``open`` / ``resolved`` once the bridge accepted them.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine, Row, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from posfleet.alerts.bridge.database import open_engine
from posfleet.payments.index import OpenCase, WaitingSale
from posfleet.payments.model import (
    Attempt,
    Case,
    CaseKind,
    CaseStatus,
    CloseReason,
    HistoryEntry,
    HistoryKind,
    Retry,
    SaleFacts,
    case_id_of,
)
from posfleet.payments.schema import (
    metadata,
    payment_case_history,
    payment_cases,
    payment_waiting,
)

TICKET_DUE_OPEN: Final = "due_open"
TICKET_OPEN: Final = "open"
TICKET_DUE_RESOLVE: Final = "due_resolve"
TICKET_RESOLVED: Final = "resolved"
DUE_TICKET_STATES: Final = (TICKET_DUE_OPEN, TICKET_DUE_RESOLVE)

_C = payment_cases.c
_H = payment_case_history.c


class CaseStore:
    """Cases in SQL through SQLAlchemy Core (blocking; call from a thread)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # SQLite has one writer at a time: queue writers here rather than in its busy loop.
        self._write_lock = threading.Lock()

    @classmethod
    def open(cls, database: str, busy_timeout_seconds: float = 5.0) -> CaseStore:
        """Open ``database`` (a SQLite path, or a SQLite or PostgreSQL URL); create tables."""
        store = cls(open_engine(database, busy_timeout_seconds))
        store.create_schema()
        return store

    def create_schema(self) -> None:
        with self._writing() as conn:
            metadata.create_all(conn)

    def dispose(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self._write_lock, self._engine.begin() as conn:
            yield conn

    # --- opening and following cases ---------------------------------------------------------

    def open_case(self, found: OpenCase, region: str, now: datetime) -> Case | None:
        """Store a new case with its sale, attempts and retry; None when it already exists."""
        sale = found.sale
        case_id = case_id_of(sale.terminal_id, sale.transaction_id)
        retry = found.retry
        try:
            with self._writing() as conn:
                conn.execute(
                    insert(payment_cases).values(
                        case_id=case_id,
                        kind=found.kind.value,
                        status=CaseStatus.OPEN.value,
                        region=region,
                        **_sale_values(sale),
                        opened_at=now,
                        retry_transaction_id=retry.transaction_id if retry else None,
                        retry_at=retry.at if retry else None,
                        retry_stan=retry.stan if retry else None,
                        retry_rrn=retry.rrn if retry else None,
                        ticket_state=TICKET_DUE_OPEN,
                    )
                )
                self._history(
                    conn, case_id, sale.occurred_at, HistoryKind.SALE, sale.outcome,
                    transaction_id=sale.transaction_id,
                    host_response_code=sale.host_response_code,
                    local_error=sale.local_error,
                    dedupe_key="sale",
                )
                for attempt in found.attempts:
                    self._attempt(conn, case_id, attempt)
                if retry is not None:
                    self._history(
                        conn, case_id, retry.at, HistoryKind.RETRY, "approved",
                        transaction_id=retry.transaction_id,
                        detail="same masked card and amount, approved after the suspect sale",
                        dedupe_key=f"retry:{retry.transaction_id}",
                    )
                self._history(
                    conn, case_id, now, HistoryKind.OPENED, found.kind.value, detail=found.detail
                )
        except IntegrityError:
            return None  # opened before (a redelivered event, or another process)
        return self.get(case_id)

    def add_attempt(self, case_id: str, attempt: Attempt) -> bool:
        """Record a reversal attempt on a stored case; False when it was recorded before."""
        try:
            with self._writing() as conn:
                self._attempt(conn, case_id, attempt)
        except IntegrityError:
            return False
        return True

    def _attempt(self, conn: Connection, case_id: str, attempt: Attempt) -> None:
        self._history(
            conn, case_id, attempt.at, HistoryKind.REVERSAL_ATTEMPT, attempt.state,
            transaction_id=attempt.transaction_id,
            host_response_code=attempt.host_response_code,
            local_error=attempt.local_error,
            dedupe_key=f"attempt:{attempt.transaction_id}:{attempt.state}",
        )

    @staticmethod
    def _history(
        conn: Connection,
        case_id: str,
        at: datetime,
        kind: HistoryKind,
        state: str,
        *,
        transaction_id: str | None = None,
        host_response_code: str | None = None,
        local_error: str | None = None,
        detail: str = "",
        dedupe_key: str | None = None,
    ) -> None:
        conn.execute(
            insert(payment_case_history).values(
                case_id=case_id,
                at=at,
                kind=kind.value,
                state=state,
                transaction_id=transaction_id,
                host_response_code=host_response_code,
                local_error=local_error,
                detail=detail,
                dedupe_key=dedupe_key,
            )
        )

    def close(
        self,
        case_id: str,
        reason: CloseReason,
        at: datetime,
        detail: str,
        *,
        dedupe_key: str | None = None,
    ) -> bool:
        """Close an open case (ticket due to resolve); False when it was not open."""
        with self._writing() as conn:
            changed = conn.execute(
                update(payment_cases)
                .where(and_(_C.case_id == case_id, _C.status == CaseStatus.OPEN.value))
                .values(
                    status=CaseStatus.CLOSED.value,
                    closed_at=at,
                    close_reason=reason.value,
                    ticket_state=TICKET_DUE_RESOLVE,
                )
            ).rowcount
            if not changed:
                return False
            self._history(
                conn, case_id, at, HistoryKind.CLOSED, reason.value,
                detail=detail, dedupe_key=dedupe_key,
            )
        return True

    def record_settlement(
        self, case_id: str, status: str, at: datetime, detail: str, dedupe_key: str
    ) -> bool:
        """Note what a settlement file says about an open case's sale (e.g. settled: the
        customer was charged, a refund is needed); False when this line was noted before."""
        try:
            with self._writing() as conn:
                conn.execute(
                    update(payment_cases).where(_C.case_id == case_id).values(settlement=status)
                )
                self._history(
                    conn, case_id, at, HistoryKind.SETTLEMENT, status,
                    detail=detail, dedupe_key=dedupe_key,
                )
        except IntegrityError:
            return False
        return True

    # --- lookups -------------------------------------------------------------------------------

    def open_case_for_result(
        self, terminal_id: str, transaction_id: str, rrn: str | None, stan: str | None
    ) -> str | None:
        """The open case a reversal result belongs to (by id prefix, then RRN, then STAN)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_C.case_id, _C.transaction_id, _C.rrn, _C.stan).where(
                    and_(_C.terminal_id == terminal_id, _C.status == CaseStatus.OPEN.value)
                )
            ).all()
        for row in rows:
            if transaction_id == row.transaction_id or transaction_id.startswith(
                row.transaction_id + "-"
            ):
                return str(row.case_id)
        for row in rows:
            if (rrn is not None and rrn == row.rrn) or (stan is not None and stan == row.stan):
                return str(row.case_id)
        return None

    def find_sale(
        self,
        terminal_id: str,
        *,
        transaction_id: str | None = None,
        rrn: str | None = None,
        stan: str | None = None,
    ) -> list[Case]:
        """Cases (open or closed) of a terminal's sale, by transaction id, RRN or STAN."""
        conditions = []
        if transaction_id:
            conditions.append(_C.transaction_id == transaction_id)
        if rrn:
            conditions.append(_C.rrn == rrn)
        if stan:
            conditions.append(_C.stan == stan)
        if not conditions:
            return []
        with self._engine.connect() as conn:
            for condition in conditions:  # the surest key first
                rows = conn.execute(
                    select(payment_cases).where(and_(_C.terminal_id == terminal_id, condition))
                ).all()
                if rows:
                    return [self._case(conn, row) for row in rows]
        return []

    def get(self, case_id: str) -> Case | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(payment_cases).where(_C.case_id == case_id)).first()
            return None if row is None else self._case(conn, row)

    def list_cases(
        self, *, status: CaseStatus | None = None, store_id: str | None = None, limit: int = 1000
    ) -> list[Case]:
        query = select(payment_cases).order_by(_C.opened_at, _C.case_id).limit(limit)
        if status is not None:
            query = query.where(_C.status == status.value)
        if store_id is not None:
            query = query.where(_C.store_id == store_id)
        with self._engine.connect() as conn:
            return [self._case(conn, row, with_history=False) for row in conn.execute(query)]

    def open_counts(self) -> Counter[tuple[str, str, str, str]]:
        """Open cases per (store, merchant, region, kind)."""
        query = (
            select(_C.store_id, _C.merchant_id, _C.region, _C.kind, func.count())
            .where(_C.status == CaseStatus.OPEN.value)
            .group_by(_C.store_id, _C.merchant_id, _C.region, _C.kind)
        )
        with self._engine.connect() as conn:
            return Counter({(r[0], r[1], r[2], r[3]): int(r[4]) for r in conn.execute(query)})

    # --- tickets -------------------------------------------------------------------------------

    def due_tickets(self, limit: int = 100) -> list[Case]:
        """Cases whose ticket must be opened or resolved, oldest first."""
        query = (
            select(payment_cases)
            .where(_C.ticket_state.in_(DUE_TICKET_STATES))
            .order_by(_C.opened_at)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [self._case(conn, row, with_history=False) for row in conn.execute(query)]

    def ticket_delivered(self, case_id: str, expected_state: str) -> None:
        """Mark a due ticket done, unless the case moved on meanwhile (closed while its
        opening was in flight: the resolve is still due)."""
        done = TICKET_OPEN if expected_state == TICKET_DUE_OPEN else TICKET_RESOLVED
        with self._writing() as conn:
            conn.execute(
                update(payment_cases)
                .where(and_(_C.case_id == case_id, _C.ticket_state == expected_state))
                .values(ticket_state=done, ticket_error=None)
            )

    def ticket_failed(self, case_id: str, error: str) -> None:
        with self._writing() as conn:
            conn.execute(
                update(payment_cases).where(_C.case_id == case_id).values(ticket_error=error)
            )

    # --- suspects across restarts -------------------------------------------------------------

    def save_waiting(self, waiting: Sequence[WaitingSale]) -> None:
        """Keep the suspects still waiting (replacing any saved before)."""
        with self._writing() as conn:
            conn.execute(delete(payment_waiting))
            if waiting:
                conn.execute(
                    insert(payment_waiting),
                    [
                        {
                            "terminal_id": item.sale.terminal_id,
                            "transaction_id": item.sale.transaction_id,
                            "data": json.dumps(_waiting_json(item)),
                        }
                        for item in waiting
                    ],
                )

    def take_waiting(self) -> list[WaitingSale]:
        """The saved suspects, removed from the store."""
        with self._writing() as conn:
            rows = conn.execute(select(payment_waiting.c.data)).all()
            conn.execute(delete(payment_waiting))
        return [_waiting_of(json.loads(row.data)) for row in rows]

    # --- rows to cases -------------------------------------------------------------------------

    def _case(self, conn: Connection, row: Row[Any], *, with_history: bool = True) -> Case:
        history: Sequence[HistoryEntry] = ()
        if with_history:
            history = [
                HistoryEntry(
                    at=entry.at,
                    kind=HistoryKind(entry.kind),
                    state=entry.state,
                    transaction_id=entry.transaction_id,
                    host_response_code=entry.host_response_code,
                    local_error=entry.local_error,
                    detail=entry.detail,
                )
                for entry in conn.execute(
                    select(payment_case_history)
                    .where(_H.case_id == row.case_id)
                    .order_by(_H.id)
                )
            ]
        retry = None
        if row.retry_transaction_id is not None:
            retry = Retry(row.retry_at, row.retry_transaction_id, row.retry_stan, row.retry_rrn)
        return Case(
            case_id=row.case_id,
            kind=CaseKind(row.kind),
            status=CaseStatus(row.status),
            sale=SaleFacts(
                transaction_id=row.transaction_id,
                terminal_id=row.terminal_id,
                store_id=row.store_id,
                merchant_id=row.merchant_id,
                occurred_at=row.occurred_at,
                amount_minor=row.amount_minor,
                currency=row.currency,
                outcome=row.outcome,
                operator_id=row.operator_id,
                stan=row.stan,
                rrn=row.rrn,
                masked_pan=row.masked_pan,
                host_response_code=row.host_response_code,
                local_error=row.local_error,
                reversal_state=row.reversal_state,
            ),
            region=row.region,
            opened_at=row.opened_at,
            closed_at=row.closed_at,
            close_reason=CloseReason(row.close_reason) if row.close_reason else None,
            settlement=row.settlement,
            retry=retry,
            history=tuple(history),
        )


def _sale_values(sale: SaleFacts) -> dict[str, Any]:
    return {
        "terminal_id": sale.terminal_id,
        "store_id": sale.store_id,
        "merchant_id": sale.merchant_id,
        "operator_id": sale.operator_id,
        "transaction_id": sale.transaction_id,
        "stan": sale.stan,
        "rrn": sale.rrn,
        "masked_pan": sale.masked_pan,
        "amount_minor": sale.amount_minor,
        "currency": sale.currency,
        "outcome": sale.outcome,
        "host_response_code": sale.host_response_code,
        "local_error": sale.local_error,
        "reversal_state": sale.reversal_state,
        "occurred_at": sale.occurred_at,
    }


def _dates_to_text(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def _text_to_dates(values: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {
        k: datetime.fromisoformat(v) if k in names and isinstance(v, str) else v
        for k, v in values.items()
    }


def _waiting_json(item: WaitingSale) -> dict[str, Any]:
    return {
        "sale": _dates_to_text(asdict(item.sale)),
        "at": item.at,
        "deadline": item.deadline,
        "attempts": [_dates_to_text(asdict(attempt)) for attempt in item.attempts],
        "retry": _dates_to_text(asdict(item.retry)) if item.retry else None,
    }


def _waiting_of(data: dict[str, Any]) -> WaitingSale:
    retry = data.get("retry")
    return WaitingSale(
        sale=SaleFacts(**_text_to_dates(data["sale"], ("occurred_at",))),
        at=float(data["at"]),
        deadline=float(data["deadline"]),
        attempts=tuple(Attempt(**_text_to_dates(a, ("at",))) for a in data["attempts"]),
        retry=Retry(**_text_to_dates(retry, ("at",))) if retry else None,
    )

