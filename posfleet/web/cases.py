"""Charged-but-failed cases from the payments case store, read only, within a Scope."""

from __future__ import annotations

from sqlalchemy import Engine, select

from posfleet.alerts.bridge.database import READ_ONLY
from posfleet.payments.model import Case, CaseStatus
from posfleet.payments.schema import metadata, payment_cases
from posfleet.payments.store import CaseStore
from posfleet.web.scope import Scope

C = payment_cases.c


class CaseReader:
    """Lists and shows cases (blocking; call from a thread)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = engine.execution_options(**{READ_ONLY: True})
        self._store = CaseStore(self._read)

    def create_schema(self) -> None:
        with self.engine.begin() as conn:
            metadata.create_all(conn)

    def find(
        self,
        scope: Scope,
        *,
        merchant: str | None = None,
        store: str | None = None,
        terminal: str | None = None,
        status: CaseStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Case]:
        """Cases, most recently opened first."""
        query = select(C.case_id)
        wanted = scope.narrow(merchant)
        if wanted is not None:
            query = query.where(C.merchant_id == wanted)
        if store is not None:
            query = query.where(C.store_id == store)
        if terminal is not None:
            query = query.where(C.terminal_id == terminal)
        if status is not None:
            query = query.where(C.status == status.value)
        query = query.order_by(C.opened_at.desc(), C.case_id).limit(limit).offset(offset)
        with self._read.connect() as conn:
            ids = [row.case_id for row in conn.execute(query)]
        cases = [self._store.get(case_id) for case_id in ids]
        return [case for case in cases if case is not None and scope.allows(case.sale.merchant_id)]

    def get(self, scope: Scope, case_id: str) -> Case | None:
        case = self._store.get(case_id)
        if case is None or not scope.allows(case.sale.merchant_id):
            return None
        return case
