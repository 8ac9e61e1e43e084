"""Tables of the status store (SQLAlchemy Core), the same on SQLite and PostgreSQL.

``status_terminals`` holds one row per terminal: its latest snapshot summed up (identity,
status code, issues, each component's status, paper time to empty, network quality) and
when it was observed and received. ``status_hourly`` holds one row per terminal and hour:
the minutes online and ready for payments (bitmaps), and payment attempts by cause group.
The web app reads both; indexes follow its queries (fleet filters, stores, history).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text

from posfleet.alerts.bridge.schema import UtcDateTime
from posfleet.payments.groups import CauseGroup

metadata = MetaData()

CAUSE_COLUMNS: Final = {group: f"cause_{group.value}" for group in CauseGroup}
"""Column of ``status_hourly`` counting a cause group's attempts."""

status_terminals = Table(
    "status_terminals",
    metadata,
    Column("terminal_id", String(100), primary_key=True),
    Column("merchant_id", String(100), nullable=False),
    Column("store_id", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("model", String(100)),
    Column("vendor", String(100)),
    Column("serial", String(100)),
    # The most pressing issue's code, or "ready" (offline is decided when reading).
    Column("status", String(32), nullable=False),
    # 1 when nothing blocks card payments.
    Column("ready", Integer, nullable=False),
    # JSON list of {"code": ..., "params": {...}}, most pressing first.
    Column("issues", Text, nullable=False),
    # JSON object: component -> status code.
    Column("components", Text, nullable=False),
    Column("paper_seconds_to_empty", Float),
    Column("network_quality", String(16), nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)
Index("ix_status_terminals_merchant_store", status_terminals.c.merchant_id,
      status_terminals.c.store_id, status_terminals.c.terminal_id)
Index("ix_status_terminals_store", status_terminals.c.store_id, status_terminals.c.terminal_id)
Index("ix_status_terminals_region", status_terminals.c.region, status_terminals.c.store_id,
      status_terminals.c.terminal_id)
Index("ix_status_terminals_status", status_terminals.c.status, status_terminals.c.received_at)
Index("ix_status_terminals_received", status_terminals.c.received_at)

status_hourly = Table(
    "status_hourly",
    metadata,
    Column("terminal_id", String(100), primary_key=True),
    Column("hour", UtcDateTime, primary_key=True),
    Column("merchant_id", String(100), nullable=False),
    Column("store_id", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    # Minutes of the hour (bit i = minute i) the terminal was online / ready for payments:
    # OR-ed together, so several ingest copies and replayed batches never count twice.
    Column("online_minutes", BigInteger, nullable=False, default=0),
    Column("ready_minutes", BigInteger, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    *(Column(name, Integer, nullable=False, default=0) for name in CAUSE_COLUMNS.values()),
)
Index("ix_status_hourly_store_hour", status_hourly.c.store_id, status_hourly.c.hour)
Index("ix_status_hourly_merchant_hour", status_hourly.c.merchant_id, status_hourly.c.hour)

HOURLY_COUNTS: Final = ("attempts", *CAUSE_COLUMNS.values())
"""Columns of ``status_hourly`` that add up."""
HOURLY_MASKS: Final = ("online_minutes", "ready_minutes")
"""Columns of ``status_hourly`` that are minute bitmaps, combined with OR."""
