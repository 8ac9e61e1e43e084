"""Tables of the ticket store (SQLAlchemy Core), the same on SQLite and PostgreSQL.

``tickets.open_key`` holds the key while a ticket is not closed and NULL once it is: its
unique constraint makes "one open ticket per fault" a property of the database, so two
webhooks racing (HA Alertmanagers, retries, several bridge processes) cannot both insert.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

SCHEMA_VERSION = 1
"""Bump with every schema change (and write the change's migration then)."""


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite has no time zones: stored naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ticket store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

schema_version = Table(
    "posfleet_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(40), nullable=False, index=True),
    Column("open_key", String(40), nullable=True, unique=True),
    Column("identity", Text, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("priority", String(16), nullable=False),
    Column("severity", String(32)),
    Column("team", String(64), index=True),
    Column("alertname", String(200), nullable=False),
    Column("component", String(64)),
    Column("terminal", String(100), index=True),
    Column("store", String(100), index=True),
    Column("store_name", Text),
    Column("store_address", Text),
    Column("merchant", String(100)),
    Column("region", String(100)),
    Column("summary", Text, nullable=False),
    Column("description", Text),
    Column("action", Text),
    Column("runbook_url", Text),
    Column("generator_url", Text),
    Column("labels", Text, nullable=False),
    Column("annotations", Text, nullable=False),
    Column("assignee", String(200)),
    Column("acknowledged_by", String(200)),
    Column("opened_at", UtcDateTime, nullable=False, index=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("fired_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Column("close_after", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("reopen_count", Integer, nullable=False, default=0),
    Column("notification_count", Integer, nullable=False, default=1),
)
Index("ix_tickets_key_closed", tickets.c.key, tickets.c.closed_at)

events = Table(
    "ticket_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False, index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("text", Text, nullable=False),
)

outbox = Table(
    "ticket_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("system", String(32), nullable=False),
    Column("action", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("state", String(8), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("done_at", UtcDateTime),
)
Index("ix_outbox_state_due", outbox.c.state, outbox.c.next_attempt_at)

remote_links = Table(
    "ticket_remote_links",
    metadata,
    Column("ticket_id", Integer, ForeignKey("tickets.id"), primary_key=True),
    Column("system", String(32), primary_key=True),
    Column("remote_id", String(200), nullable=False),
    Column("url", Text),
)
