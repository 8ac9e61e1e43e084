"""The web app's reads of the status store, on SQLite and on PostgreSQL: counts per state,
stores, scope, and history (bitmaps of minutes summed per hour)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from posfleet.alerts.bridge.database import open_engine
from posfleet.exporters.status_store.config import StatusStoreSettings
from posfleet.exporters.status_store.sink import StatusStoreSink
from posfleet.web.data import FleetFilter, StatusReader
from posfleet.web.scope import Scope
from tests.web.support import snapshot, transaction

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def database(status_store_database: str) -> str:
    return status_store_database


@pytest.fixture
def reader(database: str, tmp_path: Path) -> Iterator[StatusReader]:
    """A store written through the real output: T-A1 ready and T-A2 paper low (S-A1, M-A),
    T-B1 printer fault (S-B1, M-B), 30 minutes of snapshots a minute apart; T-B2 heard from
    once, three hours before the others."""

    async def feed() -> None:
        clock_values = iter([T0 - timedelta(hours=3)] + [T0 + timedelta(minutes=30)] * 1000)
        sink = StatusStoreSink(
            StatusStoreSettings(database=database, flush_interval_seconds=0.02),
            tmp_path / "buffer", buffer_max_bytes=16 * 1024 * 1024,
            clock=lambda: next(clock_values),
        )
        await sink.start()
        await sink.publish(snapshot("T-B2", T0 - timedelta(hours=3)))
        for minute in range(31):
            at = T0 + timedelta(minutes=minute)
            await sink.publish(snapshot("T-A1", at))
            await sink.publish(snapshot("T-A2", at, paper="near_end"))
            await sink.publish(snapshot("T-B1", at, printer_online=False))
        await sink.publish_transaction(transaction("T-A1", T0, 1))
        await sink.publish_transaction(transaction("T-A2", T0, 1, outcome="declined",
                                                   host_response_code="51"))
        async with asyncio.timeout(20):
            await sink.wait_written()
        await sink.close()

    asyncio.run(feed())
    engine = open_engine(database)
    yield StatusReader(engine, timedelta(minutes=5), clock=lambda: T0 + timedelta(minutes=31))
    engine.dispose()


def test_counts_per_state_follow_the_filters_and_the_scope(reader: StatusReader) -> None:
    everything = reader.fleet_counts(Scope(None), FleetFilter())
    merchant_a = reader.fleet_counts(Scope("M-A"), FleetFilter(merchant="M-B"))
    store_b = reader.fleet_counts(Scope(None), FleetFilter(store="S-B1"))

    assert everything == {"online": 1, "degraded": 2, "offline": 1}
    assert merchant_a == {"online": 1, "degraded": 1, "offline": 0}
    assert store_b == {"online": 0, "degraded": 1, "offline": 1}


def test_rows_show_offline_for_stale_terminals_and_filter_by_state(
    reader: StatusReader,
) -> None:
    offline = reader.fleet_terminals(Scope(None), FleetFilter(state="offline"), 10, 0)
    degraded = reader.fleet_terminals(Scope(None), FleetFilter(state="degraded"), 10, 0)

    assert [(r.terminal_id, r.status, r.ready) for r in offline] == [("T-B2", "offline", False)]
    assert [(r.terminal_id, r.status) for r in degraded] == [
        ("T-A2", "paper_low"), ("T-B1", "printer_fault")]


def test_stores_are_counted_in_the_database_and_scoped(reader: StatusReader) -> None:
    stores = reader.stores(Scope(None))
    mine = reader.stores(Scope("M-A"), merchant="M-B")

    assert [(s.store_id, s.terminals, s.ready, s.attention, s.offline) for s in stores] == [
        ("S-A1", 2, 1, 1, 0), ("S-B1", 2, 0, 1, 1)]
    assert [s.store_id for s in mine] == ["S-A1"]
    assert reader.store(Scope("M-A"), "S-B1") is None
    assert reader.terminal(Scope("M-A"), "T-B1") is None


def test_history_sums_minutes_online_over_a_stores_terminals(reader: StatusReader) -> None:
    store = reader.history(Scope("M-A"), store_id="S-A1", hours=2)
    printer_down = reader.history(Scope(None), terminal_id="T-B1", hours=1)
    foreign = reader.history(Scope("M-A"), store_id="S-B1")
    foreign_terminal = reader.history(Scope("M-A"), terminal_id="T-B1")

    last = store.hours[-1]
    assert last.hour == T0
    assert last.terminals == 2
    assert last.online_minutes == 2 * 30
    assert last.availability == pytest.approx(0.5)
    assert store.causes["approved"] == 1
    assert store.causes["issuer_refusal"] == 1
    assert printer_down.hours[-1].online_minutes == 30
    assert printer_down.hours[-1].ready_minutes == 0
    assert foreign.hours == []
    assert foreign_terminal.hours == []
