"""Tables of the case store (SQLAlchemy Core), the same on SQLite and PostgreSQL.

``payment_cases`` has one row per suspect sale (unique per terminal and transaction id, so a
redelivered event never opens a second case); ``payment_case_history`` has every reversal
attempt, retry, settlement line and state change. A history row may carry a ``dedupe_key``
(unique per case): importing the same reconciliation file twice adds nothing.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from posfleet.alerts.bridge.schema import UtcDateTime

metadata = MetaData()

payment_cases = Table(
    "payment_cases",
    metadata,
    Column("case_id", String(20), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("terminal_id", String(100), nullable=False),
    Column("store_id", String(100), nullable=False, index=True),
    Column("merchant_id", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("operator_id", String(100)),
    Column("transaction_id", String(100), nullable=False),
    Column("stan", String(6)),
    Column("rrn", String(12)),
    Column("masked_pan", String(19)),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("host_response_code", String(3)),
    Column("local_error", String(40)),
    Column("reversal_state", String(16)),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False, index=True),
    Column("closed_at", UtcDateTime),
    Column("close_reason", String(32)),
    Column("settlement", String(16)),
    Column("retry_transaction_id", String(100)),
    Column("retry_at", UtcDateTime),
    Column("retry_stan", String(6)),
    Column("retry_rrn", String(12)),
    Column("ticket_state", String(16), nullable=False),
    Column("ticket_error", Text),
    UniqueConstraint("terminal_id", "transaction_id", name="uq_payment_cases_sale"),
)
Index("ix_payment_cases_terminal_status", payment_cases.c.terminal_id, payment_cases.c.status)
Index("ix_payment_cases_ticket", payment_cases.c.ticket_state)

payment_case_history = Table(
    "payment_case_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(20), ForeignKey("payment_cases.case_id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("state", String(32), nullable=False),
    Column("transaction_id", String(100)),
    Column("host_response_code", String(3)),
    Column("local_error", String(40)),
    Column("detail", Text, nullable=False),
    Column("dedupe_key", String(64)),
    UniqueConstraint("case_id", "dedupe_key", name="uq_payment_case_history_dedupe"),
)
Index("ix_payment_case_history_case", payment_case_history.c.case_id, payment_case_history.c.id)

payment_waiting = Table(
    "payment_waiting",
    metadata,
    Column("terminal_id", String(100), primary_key=True),
    Column("transaction_id", String(100), primary_key=True),
    Column("data", Text, nullable=False),
)
"""Suspect sales still waiting for their reversal when the engine stopped (JSON)."""
