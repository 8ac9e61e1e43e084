"""The status store output: latest state per terminal, hourly history, batching through the
disk buffer, and a database that refuses a batch (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from posfleet.config import parse_config
from posfleet.exporters.catalogue import CATALOGUE, exposition_problems
from posfleet.exporters.outputs import build_outputs
from posfleet.exporters.status_store.config import StatusStoreSettings
from posfleet.exporters.status_store.schema import status_hourly, status_terminals
from posfleet.exporters.status_store.sink import StatusStoreSink
from posfleet.exporters.status_store.store import StatusStore
from tests.web.support import snapshot, transaction

T0 = datetime(2026, 3, 2, 9, 50, tzinfo=UTC)


def make_sink(database: str, tmp_path: Path, **settings: Any) -> StatusStoreSink:
    values: dict[str, Any] = {"database": database, "flush_interval_seconds": 0.02, **settings}
    return StatusStoreSink(
        StatusStoreSettings(**values), tmp_path / "buffer", buffer_max_bytes=16 * 1024 * 1024,
        regions={"S-A1": "eu-central"},
    )


async def written(sink: StatusStoreSink) -> None:
    async with asyncio.timeout(20):
        await sink.wait_written()


def rows(database: str, table: Any) -> list[Mapping[str, Any]]:
    store = StatusStore.open(database)
    try:
        with store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(select(table))]
    finally:
        store.dispose()


def minutes(mask: int) -> list[int]:
    return [minute for minute in range(60) if mask >> minute & 1]


def hourly(database: str) -> dict[datetime, Mapping[str, Any]]:
    return {row["hour"]: row for row in rows(database, status_hourly)}


async def test_the_latest_state_is_kept_and_an_older_snapshot_never_replaces_it(
    database: str, tmp_path: Path
) -> None:
    sink = make_sink(database, tmp_path)
    await sink.start()
    await sink.publish(snapshot("T-A1", T0, lines=10))
    await sink.publish(snapshot("T-A1", T0 + timedelta(minutes=1), paper="near_end", lines=20))
    await written(sink)
    await sink.publish(snapshot("T-A1", T0 - timedelta(minutes=5), lines=0))  # late, replayed
    await written(sink)
    await sink.close()

    (row,) = rows(database, status_terminals)
    assert row["status"] == "paper_low"
    assert row["observed_at"] == T0 + timedelta(minutes=1)
    assert json.loads(row["issues"]) == [{"code": "paper_low", "params": {}}]
    assert json.loads(row["components"])["printer"] == "paper_low"
    assert row["ready"] == 1
    assert (row["merchant_id"], row["store_id"], row["region"]) == ("M-A", "S-A1", "eu-central")


async def test_time_online_is_split_at_hour_boundaries_and_long_gaps_count_only_the_cap(
    database: str, tmp_path: Path
) -> None:
    sink = make_sink(database, tmp_path, max_gap_seconds=300)
    await sink.start()
    for at, online in ((T0 + timedelta(minutes=8), True),   # 09:58
                       (T0 + timedelta(minutes=12), True),  # 10:02: 2 min each side
                       (T0 + timedelta(minutes=40), False)):  # 10:30: 28 min gap, capped
        await sink.publish(snapshot("T-A1", at, printer_online=online))
    await written(sink)
    await sink.close()

    hours = hourly(database)
    nine, ten = datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert minutes(hours[nine]["online_minutes"]) == [58, 59]
    assert minutes(hours[ten]["online_minutes"]) == [0, 1, 25, 26, 27, 28, 29]
    # The last snapshot reports the printer offline: its 5 minutes were not ready for payments.
    assert minutes(hours[ten]["ready_minutes"]) == [0, 1]


async def test_two_ingest_copies_sharing_a_terminals_snapshots_count_each_minute_once(
    database: str, tmp_path: Path
) -> None:
    """With a shared subscription each copy gets every other snapshot and sees 2-minute gaps;
    the minutes they mark overlap and must not add up."""
    first, second = make_sink(database, tmp_path / "a"), make_sink(database, tmp_path / "b")
    await first.start()
    await second.start()
    for minute in range(11):
        sink = first if minute % 2 == 0 else second
        await sink.publish(snapshot("T-A1", T0 + timedelta(minutes=minute)))
    await written(first)
    await written(second)
    await first.close()
    await second.close()

    hours = hourly(database)
    online = [
        (hour.hour, minute) for hour, row in hours.items()
        for minute in minutes(row["online_minutes"])
    ]
    assert len(online) == 10  # 09:50 to 10:00, each minute once


async def test_attempts_are_counted_per_hour_by_cause_group(
    database: str, tmp_path: Path
) -> None:
    sink = make_sink(database, tmp_path)
    await sink.start()
    events = [
        transaction("T-A1", T0, 1),
        transaction("T-A1", T0, 2, outcome="declined", host_response_code="51"),
        transaction("T-A1", T0, 3, outcome="failed", local_error="operator_cancelled"),
        transaction("T-A1", T0, 4, outcome="timeout", local_error="network_timeout",
                    reversal_state="pending"),
        # The reversal's result is not an attempt of its own.
        transaction("T-A1", T0 + timedelta(minutes=1), 5, outcome="reversed",
                    reversal_state="confirmed"),
        transaction("T-A1", T0 + timedelta(minutes=20), 6),  # 10:10, the next hour
    ]
    for event in events:
        await sink.publish_transaction(event)
    await written(sink)
    await sink.close()

    hours = hourly(database)
    nine = hours[datetime(2026, 3, 2, 9, tzinfo=UTC)]
    assert nine["attempts"] == 4
    assert (nine["cause_approved"], nine["cause_issuer_refusal"], nine["cause_operator_error"],
            nine["cause_network"]) == (1, 1, 1, 1)
    assert hours[datetime(2026, 3, 2, 10, tzinfo=UTC)]["attempts"] == 1


async def test_counts_of_separate_batches_add_up(database: str, tmp_path: Path) -> None:
    sink = make_sink(database, tmp_path)
    await sink.start()
    await sink.publish_transaction(transaction("T-A1", T0, 1))
    await written(sink)
    await sink.publish_transaction(transaction("T-A1", T0, 2))
    await written(sink)
    await sink.close()

    assert hourly(database)[datetime(2026, 3, 2, 9, tzinfo=UTC)]["attempts"] == 2


class RefusingStore(StatusStore):
    """A real store whose database refuses the first ``failures`` writes (a locked or
    restarting database, which cannot be produced on demand)."""

    def __init__(self, database: str, failures: int) -> None:
        opened = StatusStore.open(database)
        super().__init__(opened.engine)
        self.failures = failures

    def write(self, terminals: Sequence[Mapping[str, Any]],
              hourly: Sequence[Mapping[str, Any]]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        super().write(terminals, hourly)


async def test_a_refused_batch_stays_buffered_and_is_written_on_retry(
    database: str, tmp_path: Path
) -> None:
    store = RefusingStore(database, failures=1)
    sink = StatusStoreSink(
        StatusStoreSettings(database=database, flush_interval_seconds=0.02),
        tmp_path / "buffer", buffer_max_bytes=16 * 1024 * 1024, store=store,
    )
    await sink.start()
    await sink.publish(snapshot("T-A1", T0))
    await written(sink)
    registry = CollectorRegistry()
    registry.register(sink.metrics())
    text = generate_latest(registry).decode()
    await sink.close()

    assert [row["terminal_id"] for row in rows(database, status_terminals)] == ["T-A1"]
    assert "posfleet_status_store_write_failures_total 1.0" in text
    assert 'posfleet_status_store_rows_written_total{table="terminals"} 1.0' in text
    assert exposition_problems(text, CATALOGUE.component("status_store"), require_all=True) == []


async def test_what_a_stopped_output_left_in_its_buffer_is_written_by_the_next_start(
    database: str, tmp_path: Path
) -> None:
    down = RefusingStore(database, failures=10_000)
    first = StatusStoreSink(
        StatusStoreSettings(database=database, flush_interval_seconds=0.02),
        tmp_path / "buffer", buffer_max_bytes=16 * 1024 * 1024, store=down,
        close_timeout_seconds=0.2,
    )
    await first.start()
    await first.publish(snapshot("T-A1", T0))
    await first.flush()
    await first.close()
    assert rows(database, status_terminals) == []

    second = make_sink(database, tmp_path)
    await second.start()
    await written(second)
    await second.close()

    assert [row["terminal_id"] for row in rows(database, status_terminals)] == ["T-A1"]


def test_build_outputs_adds_the_status_store_where_write_in_names_the_role(
    tmp_path: Path,
) -> None:
    config = parse_config(
        f"buffer: {{directory: {tmp_path}/buffer}}\n"
        f"status_store: {{database: {tmp_path}/s.sqlite3, write_in: ingest}}\n"
    )

    ingest = build_outputs(config, role="ingest")
    collector = build_outputs(config, role="collector")

    assert [type(s) for s in ingest.sinks] == [StatusStoreSink]
    assert collector.sinks == []


async def test_hourly_history_older_than_history_days_is_deleted(
    database: str, tmp_path: Path
) -> None:
    now = T0 + timedelta(days=3)
    sink = StatusStoreSink(
        StatusStoreSettings(database=database, flush_interval_seconds=0.02, history_days=1),
        tmp_path / "buffer", buffer_max_bytes=16 * 1024 * 1024, clock=lambda: now,
    )
    await sink.start()
    await sink.publish_transaction(transaction("T-A1", T0, 1))  # three days old
    await sink.publish_transaction(transaction("T-A1", now - timedelta(hours=2), 2))
    await written(sink)
    await sink.close()

    assert sorted(hourly(database)) == [datetime(2026, 3, 5, 7, tzinfo=UTC)]
