"""Settings of the status store output (``status_store:``), kept import-safe (pydantic only)
so ``posfleet.config.models`` can import them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class StatusStoreSettings(BaseModel):
    """The status store: each terminal's latest state and hourly history in SQL, for the web
    app (``posfleet web``). Written by ingest (or the edge collector), read by the web app."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)

    database: str = "/var/lib/posfleet/status.sqlite3"
    """SQLite file path, or a SQLAlchemy URL (postgresql+psycopg://user@host/db) at scale;
    set POSFLEET_STATUS_STORE__DATABASE when the URL holds a password."""
    write_in: Literal["collector", "ingest"] = "ingest"
    """Which process writes the store: central ingest (default) or the edge collector."""
    flush_interval_seconds: Annotated[float, Field(gt=0)] = 2.0
    """Longest time a change waits in memory before it is written (one transaction)."""
    max_gap_seconds: Annotated[float, Field(gt=0)] = 300.0
    """Longest gap between two snapshots of a terminal still counted as time online; a
    longer gap counts this much (the terminal was probably off for the rest)."""
    busy_timeout_seconds: Annotated[float, Field(gt=0)] = 5.0
    """Longest wait for the database before a write is retried later."""
    history_days: Annotated[int, Field(ge=1)] = 400
    """Hourly history older than this is deleted (checked once an hour); the web app charts
    the last 24 hours, the API serves up to 31 days."""
