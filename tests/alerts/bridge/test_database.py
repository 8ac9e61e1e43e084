"""The PostgreSQL pool: a connection that died while idle (server restart, network cut,
idle timeout) is replaced before use, without a ping round trip on every busy use."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text

from posfleet.alerts.bridge.database import ping_when_idle
from tests.alerts.bridge.support import sqlalchemy_url


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return int(pid)


def _terminate(postgres_dsn: str, pid: int) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.fixture
def pool(postgres_dsn: str) -> Iterator[tuple[Engine, FakeMonotonic]]:
    """An engine with one pooled connection, pinged after 10 s idle on a fake clock."""
    clock = FakeMonotonic()
    engine = create_engine(sqlalchemy_url(postgres_dsn), pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle_seconds=10.0, monotonic=clock)
    yield engine, clock
    engine.dispose()


def test_a_connection_that_died_while_idle_is_replaced_before_use(
    pool: tuple[Engine, FakeMonotonic], postgres_dsn: str
) -> None:
    engine, clock = pool
    first = _backend_pid(engine)
    _terminate(postgres_dsn, first)

    clock.now += 11.0  # idle for longer than the ping threshold
    second = _backend_pid(engine)

    assert second != first, "a fresh connection replaced the dead one"


def test_a_busy_connection_is_reused_without_being_replaced(
    pool: tuple[Engine, FakeMonotonic],
) -> None:
    engine, clock = pool
    first = _backend_pid(engine)
    clock.now += 11.0
    assert _backend_pid(engine) == first, "a live idle connection passes the ping"
    clock.now += 1.0
    assert _backend_pid(engine) == first, "a busy connection is used as it is"
