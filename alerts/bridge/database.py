"""Open the ticket database: a SQLite file (WAL, zero set-up) or PostgreSQL by URL."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

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


def _postgres_engine(url: URL, busy_timeout_seconds: float) -> Engine:
    timeout_ms = int(busy_timeout_seconds * 1000)
    return create_engine(
        url,
        pool_size=8,
        max_overflow=32,
        pool_timeout=busy_timeout_seconds,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": max(1, math.ceil(busy_timeout_seconds)),
            # A webhook waiting longer than this for a row lock gets 503 and is retried.
            "options": f"-c lock_timeout={timeout_ms} -c statement_timeout={timeout_ms * 2}",
        },
    )


def open_engine(database: str, busy_timeout_seconds: float = 5.0) -> Engine:
    url = database_url(database)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy_timeout_seconds)
    if url.get_backend_name() == "postgresql":
        return _postgres_engine(url, busy_timeout_seconds)
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use SQLite or PostgreSQL")
