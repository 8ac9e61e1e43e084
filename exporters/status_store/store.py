"""Writing the status store: one transaction per batch, upserts on SQLite and PostgreSQL.

A batch holds the latest summary of the terminals that reported since the previous batch
and the hourly counts they added. Latest rows replace older ones only when they were
observed later (a late or replayed batch never moves a terminal back in time); hourly
counts add up.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Insert, delete
from sqlalchemy.dialects import postgresql, sqlite

from posfleet.alerts.bridge.database import open_engine
from posfleet.exporters.status_store.schema import (
    HOURLY_COUNTS,
    HOURLY_MASKS,
    metadata,
    status_hourly,
    status_terminals,
)

TERMINAL_COLUMNS = tuple(column.name for column in status_terminals.columns)
HOURLY_KEYS = ("terminal_id", "hour")


def _insert(engine: Engine, table: Any) -> Any:
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class StatusStore:
    """The status store's tables (blocking; call from a thread)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        latest = _insert(engine, status_terminals)
        self._upsert_latest: Insert = latest.on_conflict_do_update(
            index_elements=[status_terminals.c.terminal_id],
            set_={name: latest.excluded[name] for name in TERMINAL_COLUMNS[1:]},
            where=status_terminals.c.observed_at <= latest.excluded.observed_at,
        )
        hourly = _insert(engine, status_hourly)
        self._add_hourly: Insert = hourly.on_conflict_do_update(
            index_elements=[status_hourly.c.terminal_id, status_hourly.c.hour],
            set_={
                **{name: status_hourly.c[name] + hourly.excluded[name] for name in HOURLY_COUNTS},
                **{
                    name: status_hourly.c[name].op("|")(hourly.excluded[name])
                    for name in HOURLY_MASKS
                },
                "merchant_id": hourly.excluded.merchant_id,
                "store_id": hourly.excluded.store_id,
                "region": hourly.excluded.region,
            },
        )

    @classmethod
    def open(cls, database: str, busy_timeout_seconds: float = 5.0) -> StatusStore:
        """Open ``database`` (SQLite path or URL, PostgreSQL URL) and create the tables."""
        store = cls(open_engine(database, busy_timeout_seconds))
        store.create_schema()
        return store

    def create_schema(self) -> None:
        with self._lock, self.engine.begin() as conn:
            metadata.create_all(conn)

    def dispose(self) -> None:
        self.engine.dispose()

    def write(
        self, terminals: Sequence[Mapping[str, Any]], hourly: Sequence[Mapping[str, Any]]
    ) -> None:
        """Upsert latest rows and add hourly counts, in one transaction."""
        with self._lock, self.engine.begin() as conn:
            if terminals:
                conn.execute(self._upsert_latest, [dict(row) for row in terminals])
            if hourly:
                conn.execute(self._add_hourly, [dict(row) for row in hourly])

    def purge(self, before: datetime) -> int:
        """Delete hourly rows of hours before ``before``; returns how many."""
        with self._lock, self.engine.begin() as conn:
            return int(
                conn.execute(delete(status_hourly).where(status_hourly.c.hour < before)).rowcount
            )


def minute_mask(start: float, end: float, hour_start: float) -> int:
    """Bits of the minutes of the hour starting at ``hour_start`` that the interval
    (start, end] touches (bit i = minute i)."""
    first = max(0, int((start - hour_start) // 60))
    last = min(59, int((end - hour_start - 1e-9) // 60))
    if last < first:
        return 0
    return ((1 << (last - first + 1)) - 1) << first


def hour_of(moment: datetime) -> datetime:
    """The start of ``moment``'s hour (UTC)."""
    return moment.replace(minute=0, second=0, microsecond=0)
