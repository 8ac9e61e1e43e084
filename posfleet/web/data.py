"""Reading the status store for the pages and the API, always within a :class:`Scope`.

Queries are shaped for a fleet of 20,000 terminals: filters on indexed columns, counts with
GROUP BY in the database, pages of rows (limit/offset), and history from hourly rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, TypeAlias

from sqlalchemy import Engine, Select, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from posfleet.alerts.bridge.database import READ_ONLY
from posfleet.exporters.status_store.schema import (
    CAUSE_COLUMNS,
    metadata,
    status_hourly,
    status_terminals,
)
from posfleet.exporters.status_store.summary import OFFLINE, READY
from posfleet.payments.groups import CauseGroup
from posfleet.web.scope import Scope

State = Literal["online", "degraded", "offline"]
STATES: Final = ("online", "degraded", "offline")
T = status_terminals.c
Query: TypeAlias = Select[*tuple[Any, ...]]
H = status_hourly.c


@dataclass(frozen=True, slots=True)
class TerminalRow:
    terminal_id: str
    merchant_id: str
    store_id: str
    region: str
    model: str | None
    vendor: str | None
    serial: str | None
    state: State
    status: str
    """The shown status code: ``offline`` when stale, else the store's status."""
    ready: bool
    issues: list[dict[str, Any]]
    components: dict[str, str]
    paper_seconds_to_empty: float | None
    network_quality: str
    observed_at: datetime
    received_at: datetime


@dataclass(frozen=True, slots=True)
class StoreRow:
    store_id: str
    merchant_id: str
    region: str
    terminals: int
    ready: int
    attention: int
    offline: int


@dataclass(frozen=True, slots=True)
class FleetFilter:
    region: str | None = None
    merchant: str | None = None
    store: str | None = None
    state: State | None = None


@dataclass(frozen=True, slots=True)
class HourRow:
    hour: datetime
    terminals: int
    """Terminals the hour is about (a store's count, or 1)."""
    online_minutes: int
    """Minutes online, summed over the terminals."""
    ready_minutes: int
    """Minutes with nothing blocking payments, summed over the terminals."""
    attempts: int
    causes: dict[str, int] = field(default_factory=dict)

    @property
    def availability(self) -> float:
        """Share of the hour the terminals were online (0..1)."""
        return min(1.0, self.online_minutes / (60.0 * max(1, self.terminals)))

    @property
    def success_ratio(self) -> float | None:
        approved = self.causes.get(CauseGroup.APPROVED.value, 0)
        return approved / self.attempts if self.attempts else None


@dataclass(frozen=True, slots=True)
class History:
    hours: list[HourRow]
    causes: dict[str, int]
    """Attempts per cause group over the whole window."""
    attempts: int


class StatusReader:
    """Scoped reads of the status store (blocking; call from a thread)."""

    def __init__(
        self,
        engine: Engine,
        stale_after: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        # Plain BEGIN on SQLite: readers never take the write lock (WAL reads beside writers).
        self._read = engine.execution_options(**{READ_ONLY: True})
        self._stale_after = stale_after
        self._clock = clock

    def create_schema(self) -> None:
        with self.engine.begin() as conn:
            metadata.create_all(conn)

    def _cutoff(self) -> datetime:
        return self._clock() - self._stale_after

    @staticmethod
    def _scoped(query: Query, scope: Scope, merchant: str | None = None) -> Query:
        wanted = scope.narrow(merchant)
        return query.where(T.merchant_id == wanted) if wanted is not None else query

    def _filtered(self, query: Query, scope: Scope, wanted: FleetFilter) -> Query:
        query = self._scoped(query, scope, wanted.merchant)
        if wanted.region:
            query = query.where(T.region == wanted.region)
        if wanted.store:
            query = query.where(T.store_id == wanted.store)
        return query

    def _with_state(self, query: Query, state: State | None, cutoff: datetime) -> Query:
        if state == "offline":
            return query.where(T.received_at < cutoff)
        if state == "online":
            return query.where(T.received_at >= cutoff, T.status == READY)
        if state == "degraded":
            return query.where(T.received_at >= cutoff, T.status != READY)
        return query

    def _row(self, row: Any, cutoff: datetime) -> TerminalRow:
        offline = row.received_at < cutoff
        state: State = "offline" if offline else "online" if row.status == READY else "degraded"
        return TerminalRow(
            terminal_id=row.terminal_id,
            merchant_id=row.merchant_id,
            store_id=row.store_id,
            region=row.region,
            model=row.model,
            vendor=row.vendor,
            serial=row.serial,
            state=state,
            status=OFFLINE if offline else row.status,
            ready=bool(row.ready) and not offline,
            issues=json.loads(row.issues),
            components=json.loads(row.components),
            paper_seconds_to_empty=row.paper_seconds_to_empty,
            network_quality=row.network_quality,
            observed_at=row.observed_at,
            received_at=row.received_at,
        )

    # --- fleet ------------------------------------------------------------------------------

    def fleet_counts(self, scope: Scope, wanted: FleetFilter) -> dict[str, int]:
        """Terminals per state (online, degraded, offline) matching the filter.

        The whole fleet: three counts the (status, received_at) and received_at indexes
        answer. Filtered: one pass over the rows the filter's index finds (so the planner
        is not tempted to walk the status index instead)."""
        cutoff = self._cutoff()
        filtered = scope.narrow(wanted.merchant) is not None or wanted.region or wanted.store
        with self._read.connect() as conn:
            if filtered:
                fresh_ready = (T.status == READY) & (T.received_at >= cutoff)
                query = self._filtered(
                    select(
                        func.count(),
                        func.sum(case((T.received_at < cutoff, 1), else_=0)),
                        func.sum(case((fresh_ready, 1), else_=0)),
                    ),
                    scope,
                    wanted,
                )
                total, offline, online = conn.execute(query).one()
                total, offline, online = int(total or 0), int(offline or 0), int(online or 0)
            else:
                base = select(func.count()).select_from(status_terminals)
                total = int(conn.execute(base).scalar() or 0)
                offline = int(conn.execute(base.where(T.received_at < cutoff)).scalar() or 0)
                online = int(
                    conn.execute(base.where(T.status == READY, T.received_at >= cutoff)).scalar()
                    or 0
                )
        return {"online": online, "degraded": total - offline - online, "offline": offline}

    def fleet_terminals(
        self, scope: Scope, wanted: FleetFilter, limit: int, offset: int
    ) -> list[TerminalRow]:
        cutoff = self._cutoff()
        query = self._with_state(
            self._filtered(select(status_terminals), scope, wanted), wanted.state, cutoff
        )
        query = query.order_by(T.store_id, T.terminal_id).limit(limit).offset(offset)
        with self._read.connect() as conn:
            return [self._row(row, cutoff) for row in conn.execute(query)]

    def regions(self, scope: Scope) -> list[str]:
        query = self._scoped(select(T.region).distinct(), scope).order_by(T.region)
        with self._read.connect() as conn:
            return [str(r) for (r,) in conn.execute(query)]

    def merchants(self, scope: Scope) -> list[str]:
        query = self._scoped(select(T.merchant_id).distinct(), scope).order_by(T.merchant_id)
        with self._read.connect() as conn:
            return [str(r) for (r,) in conn.execute(query)]

    # --- stores -----------------------------------------------------------------------------

    def _store_query(self, scope: Scope, merchant: str | None) -> Query:
        cutoff = self._cutoff()
        fresh = T.received_at >= cutoff
        query = select(
            T.store_id,
            func.min(T.merchant_id).label("merchant_id"),
            func.min(T.region).label("region"),
            func.count().label("terminals"),
            func.sum(case((fresh & (T.status == READY), 1), else_=0)).label("ready"),
            func.sum(case((fresh & (T.status != READY), 1), else_=0)).label("attention"),
            func.sum(case((~fresh, 1), else_=0)).label("offline"),
        )
        return self._scoped(query, scope, merchant).group_by(T.store_id)

    @staticmethod
    def _store_row(row: Any) -> StoreRow:
        return StoreRow(
            row.store_id, row.merchant_id, row.region, int(row.terminals), int(row.ready or 0),
            int(row.attention or 0), int(row.offline or 0),
        )

    def stores(
        self, scope: Scope, merchant: str | None = None, limit: int = 200, offset: int = 0
    ) -> list[StoreRow]:
        query = self._store_query(scope, merchant).order_by(T.store_id).limit(limit).offset(offset)
        with self._read.connect() as conn:
            return [self._store_row(row) for row in conn.execute(query)]

    def store(self, scope: Scope, store_id: str) -> StoreRow | None:
        query = self._store_query(scope, None).where(T.store_id == store_id)
        with self._read.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else self._store_row(row)

    def store_terminals(self, scope: Scope, store_id: str) -> list[TerminalRow]:
        cutoff = self._cutoff()
        query = (
            self._scoped(select(status_terminals), scope)
            .where(T.store_id == store_id)
            .order_by(T.terminal_id)
        )
        with self._read.connect() as conn:
            return [self._row(row, cutoff) for row in conn.execute(query)]

    def terminal(self, scope: Scope, terminal_id: str) -> TerminalRow | None:
        cutoff = self._cutoff()
        query = self._scoped(select(status_terminals), scope).where(T.terminal_id == terminal_id)
        with self._read.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else self._row(row, cutoff)

    # --- history ----------------------------------------------------------------------------

    def history(
        self,
        scope: Scope,
        *,
        store_id: str | None = None,
        terminal_id: str | None = None,
        hours: int = 24,
    ) -> History:
        """Hourly rows of a store or a terminal (summed), the last ``hours`` hours up to the
        newest hour with data (the clock of the terminals, which a simulation speeds up)."""
        conditions: list[ColumnElement[bool]] = []
        wanted = scope.narrow(None)
        if wanted is not None:
            # With a store or a terminal, keep the merchant condition out of the index choice
            # (`|| ''` is the same value, but no index matches it): without statistics SQLite
            # would pick the (merchant_id, hour) index and read every store of a chain.
            narrow = store_id is not None or terminal_id is not None
            merchant = H.merchant_id.concat("") if narrow else H.merchant_id
            conditions.append(merchant == wanted)
        if store_id is not None:
            conditions.append(H.store_id == store_id)
        if terminal_id is not None:
            conditions.append(H.terminal_id == terminal_id)
        with self._read.connect() as conn:
            newest = conn.execute(select(func.max(H.hour)).where(*conditions)).scalar()
            if newest is None:
                return History([], {}, 0)
            if isinstance(newest, str):  # SQLite aggregate: the type decorator is bypassed
                newest = datetime.fromisoformat(newest)
            if newest.tzinfo is None:
                newest = newest.replace(tzinfo=UTC)
            start = newest - timedelta(hours=hours - 1)
            sums = [func.sum(H.attempts), *(func.sum(H[n]) for n in CAUSE_COLUMNS.values())]
            counted = conn.execute(
                select(H.hour, *sums).where(*conditions, H.hour >= start).group_by(H.hour)
            ).all()
            masks = conn.execute(
                select(H.hour, H.online_minutes, H.ready_minutes)
                .where(*conditions, H.hour >= start)
            ).all()
            terminals = 1
            if terminal_id is None:
                count = select(func.count()).select_from(status_terminals)
                if store_id is not None:
                    count = count.where(T.store_id == store_id)
                terminals = int(conn.execute(self._scoped(count, scope)).scalar() or 1)
        minutes: dict[datetime, list[int]] = {}
        for hour, online, ready in masks:
            total = minutes.setdefault(hour, [0, 0])
            total[0] += int(online).bit_count()
            total[1] += int(ready).bit_count()
        by_hour = {row[0]: row for row in counted}
        result: list[HourRow] = []
        totals: dict[str, int] = dict.fromkeys((g.value for g in CauseGroup), 0)
        for step in range(hours):
            hour = start + timedelta(hours=step)
            row = by_hour.get(hour)
            online, ready = minutes.get(hour, (0, 0))
            causes: dict[str, int] = {}
            attempts = 0
            if row is not None:
                attempts = int(row[1] or 0)
                causes = {g.value: int(row[2 + i] or 0) for i, g in enumerate(CauseGroup)}
                for name, value in causes.items():
                    totals[name] += value
            result.append(HourRow(hour, terminals, online, ready, attempts, causes))
        return History(result, totals, sum(r.attempts for r in result))
