"""Open the ticket database: a SQLite file (WAL, zero set-up) or PostgreSQL by URL."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError

POSTGRES_POOL_SIZE = 16
"""Connections kept open to PostgreSQL. Opening one forks a server process (milliseconds of
CPU), so the pool keeps as many as the bridge usefully runs at once instead of opening and
closing overflow connections under load; more would only queue on the server's CPUs."""
IDLE_PING_SECONDS = 10.0
"""A pooled connection unused for longer is checked with SELECT 1 before use (the server
may have restarted meanwhile); busier connections are not, which saves a round trip."""

READ_ONLY = "posfleet_read_only"
"""Execution option of connections that only read: SQLite starts them with a plain BEGIN,
so readers never wait for the write lock (WAL lets them read beside the writer)."""


def database_url(database: str) -> URL:
    """A SQLAlchemy URL from the ``database`` setting: a file path means SQLite."""
    if "://" not in database:
        return make_url(f"sqlite:///{Path(database).expanduser().absolute()}")
    url = make_url(database)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def redacted(database: str) -> str:
    """The database setting with any password replaced by ***."""
    return database_url(database).render_as_string(hide_password=True)


def _sqlite_engine(url: URL, busy_timeout_seconds: float) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        pool_size=8,
        max_overflow=32,
        pool_timeout=busy_timeout_seconds,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_seconds},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN IMMEDIATE instead of pysqlite's deferred
        # BEGIN: a deferred transaction that reads and then writes can fail with "database
        # is locked" at once, without waiting for the busy timeout.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def ping_when_idle(
    engine: Engine,
    idle_seconds: float = IDLE_PING_SECONDS,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Check a pooled connection with SELECT 1 before use when it sat idle for longer than
    ``idle_seconds``; a dead one is replaced by a fresh connection (SQLAlchemy retries the
    checkout on DisconnectionError). Like ``pool_pre_ping``, but without a round trip per
    transaction while the bridge is busy."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or monotonic() - since <= idle_seconds:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc


def _postgres_engine(url: URL, busy_timeout_seconds: float) -> Engine:
    timeout_ms = int(busy_timeout_seconds * 1000)
    engine = create_engine(
        url,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=0,
        pool_timeout=busy_timeout_seconds,
        connect_args={
            "connect_timeout": max(1, math.ceil(busy_timeout_seconds)),
            # A webhook waiting longer than this for a row lock gets 503 and is retried.
            "options": f"-c lock_timeout={timeout_ms} -c statement_timeout={timeout_ms * 2}",
        },
    )
    ping_when_idle(engine)
    return engine


def open_engine(database: str, busy_timeout_seconds: float = 5.0) -> Engine:
    url = database_url(database)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy_timeout_seconds)
    if url.get_backend_name() == "postgresql":
        return _postgres_engine(url, busy_timeout_seconds)
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use SQLite or PostgreSQL")
