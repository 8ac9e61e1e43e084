"""Web app response times with 20,000 terminals and a year of tickets (target: p95 < 200 ms).

Seeds, through the components' own store APIs:

* the status store (``StatusStore.write``): one latest row per terminal, made as the status
  store output makes it (a ``StatusSnapshot`` summed up by ``summarise()``; about 5 % with an
  issue, 1 % offline), and hourly rows per terminal for ``--days`` days with every count
  and minute-bitmap column the schema lists (a row missing a column, or with an unknown
  one, stops the script with the column's name);
* the ticket bridge's store (``TicketStore.apply`` / ``acknowledge`` / ``close_due``, the
  calls the webhook and the REST API make): ``--tickets-per-terminal`` faults per terminal
  over the past year, fired, acknowledged and resolved in time order (a resolved ticket
  closes at once; the reopen window merges some faults, as in production); faults of the
  last hours are still open.

The seeded databases are kept in ``--data`` (default ``var/bench/web_pages``) and reused by
the next run with the same parameters (seeding the tickets takes minutes: every ticket is
several transactions). Kept data is compared with the current tables, columns and indexes:
the status store is seeded again when its schema (or ``STATUS_SEED_VERSION``) changed, the
tickets' indexes are rebuilt in place. Then it starts the real servers on loopback,
``posfleet tickets serve`` and ``posfleet web serve`` (uvicorn), signs in as an IT user and
a merchant user, and times N sequential requests per page and JSON route (after a
warm-up): median, p95 and p99.

    .venv/bin/python bench/web_pages.py [--requests 200] [--terminals 20000] [--days 7]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import heapq
import json
import os
import platform
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import MetaData, Table, create_engine, inspect

from posfleet.alerts.bridge.keys import ticket_key
from posfleet.alerts.bridge.model import AlertFacts
from posfleet.alerts.bridge.schema import metadata as ticket_metadata
from posfleet.alerts.bridge.store import Policy, TicketStore
from posfleet.config.models import AlertingSettings
from posfleet.exporters.status_store.schema import (
    CAUSE_COLUMNS,
    HOURLY_COUNTS,
    HOURLY_MASKS,
    status_hourly,
    status_terminals,
)
from posfleet.exporters.status_store.schema import metadata as status_metadata
from posfleet.exporters.status_store.store import StatusStore, hour_of
from posfleet.exporters.status_store.summary import summarise
from posfleet.payments.groups import CauseGroup
from posfleet.stack.net import LOOPBACK, free_port
from posfleet.stack.process import ManagedProcess, ServerStartError
from posfleet.telemetry import PaperState, StatusSnapshot
from posfleet.web.accounts import AccountStore, ensure_user

REPO = Path(__file__).resolve().parents[1]
TARGET_P95_MS = 200.0
REGIONS = ("north", "south", "east", "west", "central", "coast")
# What a healthy terminal reports (a StatusSnapshot's parts, summed up by the status store's
# own summarise()).
HEALTHY: dict[str, dict[str, Any]] = {
    "printer": {"online": True, "paper": "ok", "cover_open": False, "paper_jam": False},
    "network": {
        "interface": "ethernet",
        "link_up": True,
        "acquirer_latency_ms": 240.0,
        "packet_loss_ratio": 0.0,
    },
    "screen": {"display_ok": True, "touch_responsive": True},
    "card_reader": {"chip_reads_ok_total": 1200, "chip_reads_failed_total": 3},
    "qr_scanner": {"ok": True},
    "system": {"battery_percent": 80.0, "charging": True},
    "firmware": {"tamper_detected": False},
}
# (status code summarise() should derive, share of terminals, what the snapshot reports)
ISSUES: tuple[tuple[str, float, dict[str, dict[str, Any]]], ...] = (
    ("paper_low", 0.025, {"printer": {"paper": "near_end"}}),
    ("network_unstable", 0.012, {"network": {"packet_loss_ratio": 0.07}}),
    ("paper_out", 0.004, {"printer": {"online": False, "paper": "out"}}),
    ("cover_open", 0.002, {"printer": {"online": False, "cover_open": True}}),
    ("screen_fault", 0.002, {"screen": {"touch_responsive": False}}),
    ("battery_low", 0.005, {"system": {"battery_percent": 9.0, "charging": False}}),
)
PAPER_SECONDS_TO_EMPTY = 1200.0
"""The paper forecast of the terminals with ``paper_low``."""
OFFLINE_SHARE = 0.01
FULL_HOUR = (1 << 60) - 1
"""A minute bitmap with every minute of the hour set (status_hourly.online_minutes)."""
STATUS_SEED_VERSION = 2
"""Bump when the seeded status data changes: the next run seeds the status store again
(the tickets are kept)."""
# (alertname, component, severity, team, share of faults, typical duration in minutes)
FAULTS: tuple[tuple[str, str, str, str, float, float], ...] = (
    ("PrinterPaperRunningOut", "printer", "warning", "merchant", 0.30, 40),
    ("PrinterPaperOut", "printer", "critical", "merchant", 0.10, 25),
    ("PrinterPaperJam", "printer", "warning", "merchant", 0.06, 60),
    ("PrinterCoverOpen", "printer", "warning", "merchant", 0.05, 10),
    ("PacketLossRising", "network", "warning", "it", 0.14, 90),
    ("SignalDegrading", "network", "warning", "it", 0.08, 180),
    ("TerminalOffline", "terminal", "critical", "it", 0.15, 45),
    ("CardReaderFailuresRising", "card_reader", "warning", "technician", 0.05, 600),
    ("ScreenFault", "screen", "critical", "technician", 0.03, 900),
    ("AcquirerLatencyTrendingToTimeout", "network", "warning", "it", 0.04, 120),
)


# --- the fleet ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Terminal:
    terminal_id: str
    store_id: str
    merchant_id: str
    region: str


@dataclass(frozen=True, slots=True)
class Fleet:
    terminals: tuple[Terminal, ...]

    def of_merchant(self, merchant_id: str) -> list[Terminal]:
        return [t for t in self.terminals if t.merchant_id == merchant_id]

    def merchants_by_size(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for terminal in self.terminals:
            counts[terminal.merchant_id] = counts.get(terminal.merchant_id, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def build_fleet(terminals: int, stores: int, merchants: int, seed: int = 7) -> Fleet:
    """``stores`` stores of ``merchants`` merchants: one chain has 10 % of the stores, the
    others share the rest evenly; terminals are spread over the stores (6 or 7 each)."""
    rng = random.Random(seed)
    chain_stores = stores // 10
    store_merchant: list[str] = []
    for index in range(stores):
        if index < chain_stores:
            store_merchant.append("M-0001")
        else:
            store_merchant.append(f"M-{2 + (index - chain_stores) % (merchants - 1):04d}")
    store_region = [REGIONS[rng.randrange(len(REGIONS))] for _ in range(stores)]
    result = []
    for index in range(terminals):
        store = index * stores // terminals
        result.append(
            Terminal(
                terminal_id=f"T-{index + 1:05d}",
                store_id=f"S-{store + 1:04d}",
                merchant_id=store_merchant[store],
                region=store_region[store],
            )
        )
    return Fleet(tuple(result))


# --- the status store ---------------------------------------------------------------------


def _snapshot(terminal: Terminal, rng: random.Random, now: datetime) -> StatusSnapshot:
    """The terminal's latest snapshot: healthy, or with one of ``ISSUES``; offline
    terminals (``OFFLINE_SHARE``) reported last 1 to 30 hours ago."""
    parts = {name: dict(values) for name, values in HEALTHY.items()}
    draw = rng.random()
    for _code, share, changes in ISSUES:
        if draw < share:
            for name, values in changes.items():
                parts[name].update(values)
            break
        draw -= share
    offline = rng.random() < OFFLINE_SHARE
    observed = now - (
        timedelta(hours=rng.uniform(1, 30)) if offline else timedelta(seconds=rng.uniform(0, 60))
    )
    parts["firmware"]["certificate_expires_at"] = observed + timedelta(days=300)
    return StatusSnapshot.model_validate(
        {
            "terminal_id": terminal.terminal_id,
            "merchant_id": terminal.merchant_id,
            "store_id": terminal.store_id,
            "region": terminal.region,
            "model": "A920Pro" if rng.random() < 0.6 else "VX520",
            "vendor": "PAX" if rng.random() < 0.6 else "Verifone",
            "serial": f"SN{rng.randrange(10**9):09d}",
            "observed_at": observed,
            **parts,
        }
    )


def _checked(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` when it has exactly the columns of ``table``; else a clear error (the status
    store's schema changed: this script must fill the new columns)."""
    columns = {column.name for column in table.columns}
    if set(row) != columns:
        raise SystemExit(
            f"bench/web_pages.py is out of date with {table.name}: "
            f"columns not filled {sorted(columns - set(row))}, "
            f"unknown keys {sorted(set(row) - columns)}"
        )
    return row


def _latest_row(
    terminal: Terminal, rng: random.Random, now: datetime, policy: AlertingSettings
) -> dict[str, Any]:
    """A ``status_terminals`` row as the status store output writes it: the snapshot summed
    up by ``summarise()``, received a second after it was observed."""
    snapshot = _snapshot(terminal, rng, now)
    printer = snapshot.printer
    seconds = (
        PAPER_SECONDS_TO_EMPTY
        if printer is not None and printer.paper is PaperState.NEAR_END
        else None
    )
    summary = summarise(snapshot, policy, seconds)
    return _checked(
        status_terminals,
        {
            "terminal_id": snapshot.terminal_id,
            "merchant_id": snapshot.merchant_id,
            "store_id": snapshot.store_id,
            "region": snapshot.region or "",
            "model": snapshot.model,
            "vendor": snapshot.vendor,
            "serial": snapshot.serial,
            "status": summary.status,
            "ready": int(summary.ready),
            "issues": json.dumps([issue.as_json() for issue in summary.issues]),
            "components": json.dumps(summary.components, sort_keys=True),
            "paper_seconds_to_empty": seconds,
            "network_quality": summary.network_quality,
            "observed_at": snapshot.observed_at,
            "received_at": snapshot.observed_at + timedelta(seconds=1),
        },
    )


def _hourly_row(terminal: Terminal, hour: datetime, rng: random.Random) -> dict[str, Any]:
    """A ``status_hourly`` row: every count column of the schema (``HOURLY_COUNTS``) and every
    minute bitmap (``HOURLY_MASKS``), so a new count starts at 0 without touching this."""
    open_hours = 8 <= hour.hour < 22
    attempts = rng.randrange(5, 40) if open_hours else rng.randrange(0, 2)
    failures = {
        CauseGroup.OPERATOR_ERROR: int(attempts * 0.03 * rng.random() * 2),
        CauseGroup.ISSUER_REFUSAL: int(attempts * 0.04 * rng.random() * 2),
        CauseGroup.NETWORK: int(attempts * 0.01 * rng.random() * 2),
        CauseGroup.DEVICE_FAULT: int(attempts * 0.005 * rng.random() * 2),
    }
    online = FULL_HOUR if rng.random() > 0.002 else rng.getrandbits(60)
    ready = online if rng.random() > 0.01 else online & rng.getrandbits(60)
    masks = {name: online for name in HOURLY_MASKS} | {"ready_minutes": ready}
    counts: dict[str, int] = dict.fromkeys(HOURLY_COUNTS, 0)
    counts["attempts"] = attempts
    for group, count in failures.items():
        counts[CAUSE_COLUMNS[group]] = count
    counts[CAUSE_COLUMNS[CauseGroup.APPROVED]] = attempts - sum(failures.values())
    return _checked(
        status_hourly,
        {
            "terminal_id": terminal.terminal_id,
            "hour": hour,
            "merchant_id": terminal.merchant_id,
            "store_id": terminal.store_id,
            "region": terminal.region,
            **masks,
            **counts,
        },
    )


def refresh_latest(database: str, fleet: Fleet, now: datetime) -> None:
    """Write every terminal's latest row again as observed just now: the web app shows a
    terminal whose last report is older than a few minutes as offline."""
    rng, policy = random.Random(11), AlertingSettings()
    store = StatusStore.open(database)
    try:
        store.write([_latest_row(terminal, rng, now, policy) for terminal in fleet.terminals], [])
    finally:
        store.dispose()


def _indexes(table: Table) -> dict[str, tuple[tuple[str, ...], bool]]:
    return {
        str(index.name): (tuple(column.name for column in index.columns), bool(index.unique))
        for index in table.indexes
    }


@dataclass(frozen=True)
class SchemaDifferences:
    """How a seeded database differs from the tables of this version of the code."""

    tables: tuple[str, ...]
    """Missing tables, or tables with other columns (the data must be seeded again)."""
    indexes: tuple[str, ...]
    """Indexes missing or defined differently (create_all never changes an existing one)."""

    def __bool__(self) -> bool:
        return bool(self.tables or self.indexes)

    def describe(self) -> str:
        return "; ".join((*self.tables, *self.indexes))


def schema_differences(database: Path, tables: MetaData) -> SchemaDifferences:
    """Compare ``database``'s tables, columns and indexes (names, columns, uniqueness) with
    ``tables``."""
    engine = create_engine(f"sqlite:///{database}")
    table_notes: list[str] = []
    index_notes: list[str] = []
    try:
        found = inspect(engine)
        for table in tables.sorted_tables:
            if not found.has_table(table.name):
                table_notes.append(f"table {table.name} missing")
                continue
            have = {column["name"] for column in found.get_columns(table.name)}
            want = {column.name for column in table.columns}
            if have != want:
                table_notes.append(
                    f"{table.name}: columns missing {sorted(want - have)}, "
                    f"no longer used {sorted(have - want)}"
                )
            have_indexes = {
                str(index["name"]): (
                    tuple(str(name) for name in index["column_names"]),
                    bool(index["unique"]),
                )
                for index in found.get_indexes(table.name)
            }
            for name, definition in _indexes(table).items():
                if have_indexes.get(name) != definition:
                    index_notes.append(
                        f"index {name}: {have_indexes.get(name)} instead of {definition}"
                    )
    finally:
        engine.dispose()
    return SchemaDifferences(tuple(table_notes), tuple(index_notes))


def rebuild_indexes(database: Path, tables: MetaData) -> None:
    """Drop and create again every index of ``tables`` (the rows stay)."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as conn:
            for table in tables.sorted_tables:
                for index in table.indexes:
                    index.drop(conn, checkfirst=True)
                    index.create(conn)
    finally:
        engine.dispose()


def seed_status(database: str, fleet: Fleet, days: int, now: datetime) -> int:
    """Latest rows and ``days`` of hourly rows; returns the number of hourly rows."""
    rng, policy = random.Random(11), AlertingSettings()
    store = StatusStore.open(database)
    try:
        latest = [_latest_row(terminal, rng, now, policy) for terminal in fleet.terminals]
        store.write(latest, [])
        first_hour = hour_of(now) - timedelta(days=days)
        rows = 0
        for step in range(days * 24 + 1):
            hour = first_hour + timedelta(hours=step)
            batch = [_hourly_row(terminal, hour, rng) for terminal in fleet.terminals]
            store.write([], batch)
            rows += len(batch)
            if step % 24 == 0:
                _progress(f"status store: {hour:%Y-%m-%d} ({rows:,} hourly rows)")
        return rows
    finally:
        store.dispose()


# --- the ticket store ---------------------------------------------------------------------


def _facts(
    terminal: Terminal, fault: tuple[str, str, str, str, float, float], at: datetime, firing: bool
) -> AlertFacts:
    alertname, component, severity, team, _share, _minutes = fault
    labels = {
        "alertname": alertname,
        "component": component,
        "severity": severity,
        "team": team,
        "terminal": terminal.terminal_id,
        "store": terminal.store_id,
        "merchant": terminal.merchant_id,
        "region": terminal.region,
    }
    key = ticket_key(labels)
    return AlertFacts(
        key=key.key,
        identity=key.identity,
        firing=firing,
        alertname=alertname,
        severity=severity,
        team=team,
        component=component,
        terminal=terminal.terminal_id,
        store=terminal.store_id,
        merchant=terminal.merchant_id,
        region=terminal.region,
        store_name=f"Store {terminal.store_id}",
        store_address=None,
        summary=f"{alertname} on {terminal.terminal_id}",
        description=None,
        runbook_url=f"https://posfleet.example/runbooks/{alertname}",
        action=None,
        generator_url=None,
        starts_at=at,
        ends_at=None if firing else at,
        labels=labels,
        annotations={"summary": f"{alertname} on {terminal.terminal_id}"},
    )


def _fault_events(
    fleet: Fleet, per_terminal: float, now: datetime
) -> Iterator[tuple[datetime, int, str, AlertFacts]]:
    """(time, order, kind, facts) in time order: fire, acknowledge, resolve."""
    rng = random.Random(13)
    weights = [fault[4] for fault in FAULTS]
    count = int(len(fleet.terminals) * per_terminal)
    start_of_year = now - timedelta(days=365)
    events: list[tuple[datetime, int, str, AlertFacts]] = []
    for number in range(count):
        terminal = fleet.terminals[rng.randrange(len(fleet.terminals))]
        fault = rng.choices(FAULTS, weights)[0]
        start = start_of_year + timedelta(seconds=rng.uniform(0, 365 * 86400))
        end = start + timedelta(minutes=rng.expovariate(1 / fault[5]) + 5)
        fired = _facts(terminal, fault, start, True)
        events.append((start, 3 * number, "fire", fired))
        if fault[3] != "merchant" and rng.random() < 0.7:
            acknowledged = start + timedelta(minutes=rng.uniform(2, 30))
            if acknowledged < min(end, now):
                events.append((acknowledged, 3 * number + 1, "ack", fired))
        if end < now:
            events.append((end, 3 * number + 2, "resolve", _facts(terminal, fault, end, False)))
    heapq.heapify(events)
    while events:
        yield heapq.heappop(events)


def seed_tickets(database: str, fleet: Fleet, per_terminal: float, now: datetime) -> int:
    """Drive the bridge's store through a year of faults; returns the number of tickets."""
    # A resolved fault closes its ticket at once (no grace period): the same closed tickets
    # as with the bridge's 5-minute grace, without a close sweep every few minutes.
    store = TicketStore.open(database, policy=Policy(close_grace=timedelta(0)))
    store.create_schema(now - timedelta(days=366))
    done = 0
    started = time.monotonic()
    try:
        for at, _order, kind, facts in _fault_events(fleet, per_terminal, now):
            if kind == "ack":
                ticket = store.find_open(facts.key)
                if ticket is not None and ticket.status == "open":
                    store.acknowledge(ticket.id, "tech-bench", at)
                continue
            store.apply(facts, at)
            if kind == "fire":
                done += 1
                if done % 5000 == 0:
                    rate = done / (time.monotonic() - started)
                    _progress(f"tickets: {done:,} faults up to {at:%Y-%m-%d} ({rate:.0f}/s)")
        return sum(store.counts_by_status().values())
    finally:
        store.dispose()


# --- seeding with a cache -----------------------------------------------------------------


@dataclass(frozen=True)
class SeedParameters:
    terminals: int
    stores: int
    merchants: int
    days: int
    tickets_per_terminal: float
    version: int = 1


@dataclass(frozen=True)
class Seeded:
    status_db: Path
    tickets_db: Path
    now: datetime
    hourly_rows: int
    tickets: int


def seed(directory: Path, parameters: SeedParameters, fleet: Fleet) -> Seeded:
    """Seed into ``directory`` unless it already holds data seeded with ``parameters``.

    Kept data is checked against this version of the code: the status store is seeded again
    (minutes) when its tables, columns or indexes differ or ``STATUS_SEED_VERSION`` changed;
    the tickets (a year, the slow part) are kept when only their indexes differ (rebuilt in
    place) and refused when their tables changed."""
    manifest = directory / "manifest.json"
    status_db, tickets_db = directory / "status.sqlite3", directory / "tickets.sqlite3"
    wanted = dataclasses.asdict(parameters)
    if manifest.exists():
        found = json.loads(manifest.read_text())
        if found.get("parameters") == wanted and status_db.exists() and tickets_db.exists():
            now = datetime.fromisoformat(found["now"])
            ticket_changes = schema_differences(tickets_db, ticket_metadata)
            if ticket_changes.tables:
                raise SystemExit(
                    f"the ticket bridge's tables have changed since {tickets_db} was seeded "
                    f"({ticket_changes.describe()}): remove {directory} and run again"
                )
            if ticket_changes.indexes:
                _progress(f"tickets: rebuilding indexes ({ticket_changes.describe()})")
                rebuild_indexes(tickets_db, ticket_metadata)
            status_changes = schema_differences(status_db, status_metadata)
            if status_changes or found.get("status_seed_version") != STATUS_SEED_VERSION:
                reason = status_changes.describe() or (
                    f"seed version {found.get('status_seed_version')} -> {STATUS_SEED_VERSION}"
                )
                _progress(f"the status store changed since seeding ({reason}): seeding it again")
                for stale in directory.glob("status.sqlite3*"):
                    stale.unlink()
                status_now = datetime.now(UTC).replace(microsecond=0)
                found["hourly_rows"] = seed_status(
                    str(status_db), fleet, parameters.days, status_now
                )
                found["status_seeded_at"] = status_now.isoformat()
                found["status_seed_version"] = STATUS_SEED_VERSION
                manifest.write_text(json.dumps(found, indent=2))
            _progress(
                f"reusing the tickets seeded at {found['now']} and the status store seeded at "
                f"{found.get('status_seeded_at', found['now'])} in {directory}"
            )
            return Seeded(
                status_db, tickets_db, now, int(found["hourly_rows"]), int(found["tickets"])
            )
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.sqlite3*"):
        stale.unlink()
    manifest.unlink(missing_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.monotonic()
    # The two stores are independent: seed them side by side (each is CPU-bound).
    with ProcessPoolExecutor(max_workers=2) as pool:
        status_job = pool.submit(seed_status, str(status_db), fleet, parameters.days, now)
        tickets_job = pool.submit(
            seed_tickets, str(tickets_db), fleet, parameters.tickets_per_terminal, now
        )
        hourly_rows, tickets = status_job.result(), tickets_job.result()
    _progress(f"seeded in {time.monotonic() - started:.0f} s")
    manifest.write_text(
        json.dumps(
            {
                "parameters": wanted,
                "now": now.isoformat(),
                "hourly_rows": hourly_rows,
                "tickets": tickets,
                "status_seeded_at": now.isoformat(),
                "status_seed_version": STATUS_SEED_VERSION,
            },
            indent=2,
        )
    )
    return Seeded(status_db, tickets_db, now, hourly_rows, tickets)


def _progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


# --- timing -------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (fraction in 0..1)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Timing:
    name: str
    path: str
    samples_ms: tuple[float, ...]
    size_bytes: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 0.95)

    @property
    def p99(self) -> float:
        return percentile(self.samples_ms, 0.99)


def time_requests(
    client: httpx.Client, name: str, path: str, requests: int, warmup: int = 5
) -> Timing:
    """``requests`` sequential GETs of ``path`` after ``warmup`` untimed ones; each must be 200."""
    size = 0
    for _ in range(warmup):
        response = client.get(path)
        _expect_ok(response, path)
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        _expect_ok(response, path)
        size = len(response.content)
    return Timing(name, path, tuple(samples), size)


def _expect_ok(response: httpx.Response, path: str) -> None:
    if response.status_code != 200:
        raise SystemExit(f"GET {path} -> HTTP {response.status_code}: {response.text[:300]}")


# --- the servers --------------------------------------------------------------------------


BRIDGE_TOKEN = "bench-bridge-token"
PASSWORD = "bench-password-0123456789"


@dataclass(frozen=True)
class Servers:
    web_url: str
    bridge_url: str
    processes: tuple[ManagedProcess, ...]

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_servers(seeded: Seeded, work: Path) -> Servers:
    """``posfleet tickets serve`` on the seeded tickets, ``posfleet web serve`` on the seeded
    status store (accounts in ``work``), both on free loopback ports."""
    bridge_port, web_port = free_port(), free_port()
    bridge_url, web_url = f"http://{LOOPBACK}:{bridge_port}", f"http://{LOOPBACK}:{web_port}"
    config = {
        "tickets": {"listen": f"{LOOPBACK}:{bridge_port}", "database": str(seeded.tickets_db)},
        "status_store": {"database": str(seeded.status_db)},
        "web": {
            "listen": f"{LOOPBACK}:{web_port}",
            "database": str(seeded.status_db),
            "accounts_database": str(work / "accounts.sqlite3"),
            "tickets_url": bridge_url,
            "cookie_secure": False,
        },
    }
    config_path = work / "posfleet.json"
    config_path.write_text(json.dumps(config, indent=2))
    env = {
        **os.environ,
        "POSFLEET_TICKETS__BEARER_TOKENS": json.dumps([BRIDGE_TOKEN]),
        "POSFLEET_WEB__TICKETS_TOKEN": BRIDGE_TOKEN,
        "POSFLEET_WEB__SESSION_SECRET": secrets.token_urlsafe(32),
    }
    posfleet = str(Path(sys.executable).with_name("posfleet"))
    processes: list[ManagedProcess] = []
    try:
        for name, argv, url in (
            ("ticket bridge", [posfleet, "tickets", "serve", "-c", str(config_path)], bridge_url),
            ("web app", [posfleet, "web", "serve", "-c", str(config_path)], web_url),
        ):
            process = ManagedProcess(
                name,
                argv,
                log_path=work / f"{name.replace(' ', '-')}.log",
                ready=functools.partial(_healthy, url),
                env=env,
                start_timeout=120,
            )
            processes.append(process)
            try:
                process.start()
            except ServerStartError as err:
                raise SystemExit(
                    f"{err}\n--- {process.log_path} ---\n{process.log_tail()}"
                ) from err
    except BaseException:
        for process in reversed(processes):
            process.stop()
        raise
    return Servers(web_url, bridge_url, tuple(processes))


def signed_in(web_url: str, username: str) -> httpx.Client:
    """An HTTP client with a session of ``username`` (the sign-in form, CSRF included)."""
    client = httpx.Client(base_url=web_url, timeout=60.0, trust_env=False)
    form = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if form.status_code != 200 or match is None:
        raise SystemExit(f"GET /login -> {form.status_code}: no csrf_token field")
    answer = client.post(
        "/login",
        data={"csrf_token": match.group(1), "username": username, "password": PASSWORD},
    )
    if answer.status_code not in (302, 303):
        raise SystemExit(f"sign-in of {username} -> HTTP {answer.status_code}: {answer.text[:300]}")
    return client


def api_client(web_url: str, accounts_db: Path, username: str) -> httpx.Client:
    """An HTTP client with a fresh API token of ``username`` (Authorization: Bearer)."""
    store = AccountStore.open(str(accounts_db))
    try:
        user = store.get_user(username)
        assert user is not None
        token = store.create_token(user, "bench")
    finally:
        store.engine.dispose()
    return httpx.Client(
        base_url=web_url,
        timeout=60.0,
        trust_env=False,
        headers={"Authorization": f"Bearer {token}"},
    )


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--terminals", type=int, default=20_000)
    parser.add_argument("--stores", type=int, default=3_000)
    parser.add_argument("--merchants", type=int, default=600)
    parser.add_argument("--days", type=int, default=7, help="days of hourly history")
    parser.add_argument("--tickets-per-terminal", type=float, default=3.0, help="per year")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per route")
    parser.add_argument("--data", type=Path, default=REPO / "var" / "bench" / "web_pages")
    parser.add_argument("--seed-only", action="store_true", help="seed the data, then stop")
    args = parser.parse_args()

    parameters = SeedParameters(
        args.terminals, args.stores, args.merchants, args.days, args.tickets_per_terminal
    )
    fleet = build_fleet(parameters.terminals, parameters.stores, parameters.merchants)
    seeded = seed(args.data, parameters, fleet)
    if args.seed_only:
        return
    merchants = fleet.merchants_by_size()
    largest, largest_size = merchants[0]
    typical, typical_size = merchants[len(merchants) // 2]
    typical_store = fleet.of_merchant(typical)[0].store_id
    largest_store = fleet.of_merchant(largest)[0].store_id
    terminal = fleet.of_merchant(typical)[0].terminal_id
    region = fleet.terminals[0].region

    refresh_latest(str(seeded.status_db), fleet, datetime.now(UTC).replace(microsecond=0))
    work = Path(tempfile.mkdtemp(prefix="posfleet-bench-web-"))
    servers = start_servers(seeded, work)
    try:
        accounts = work / "accounts.sqlite3"
        ensure_user(str(accounts), "bench-it", PASSWORD, "it")
        ensure_user(str(accounts), "bench-typical", PASSWORD, "merchant", typical)
        ensure_user(str(accounts), "bench-chain", PASSWORD, "merchant", largest)
        it, shop, chain = (
            signed_in(servers.web_url, name)
            for name in ("bench-it", "bench-typical", "bench-chain")
        )
        it_api = api_client(servers.web_url, accounts, "bench-it")
        shop_api = api_client(servers.web_url, accounts, "bench-typical")
        routes = [
            (it, "IT fleet page", "/fleet"),
            (it, f"IT fleet page, region={region}", f"/fleet?region={region}"),
            (it, "IT fleet page, state=degraded", "/fleet?state=degraded"),
            (it_api, "IT fleet API", "/api/v1/fleet"),
            (it, "IT ticket queue page", "/tickets"),
            (shop, f"merchant home ({typical_size} terminals)", "/stores"),
            (shop, "merchant store page", f"/stores/{typical_store}"),
            (shop, "merchant terminal page", f"/terminals/{terminal}"),
            (shop_api, "merchant stores API", "/api/v1/stores"),
            (shop_api, "merchant store API", f"/api/v1/stores/{typical_store}"),
            (chain, f"chain merchant home ({largest_size} terminals)", "/stores"),
            (chain, "chain merchant store page", f"/stores/{largest_store}"),
        ]
        load_before = os.getloadavg()[0]
        timings = [
            time_requests(client, name, path, args.requests) for client, name, path in routes
        ]
        load = (load_before, os.getloadavg()[0])
    finally:
        servers.stop()
    report(seeded, parameters, args.requests, timings, load)


def report(
    seeded: Seeded,
    parameters: SeedParameters,
    requests: int,
    timings: Sequence[Timing],
    load: tuple[float, float],
) -> None:
    print(
        f"web pages: {parameters.terminals:,} terminals in {parameters.stores:,} stores of "
        f"{parameters.merchants} merchants, {seeded.hourly_rows:,} hourly rows "
        f"({parameters.days} days), {seeded.tickets:,} tickets over a year"
    )
    print(f"  {requests} sequential requests per route after 5 warm-up ones (milliseconds)")
    width = max(len(timing.name) for timing in timings)
    print(f"  {'route':<{width}}  {'median':>7} {'p95':>7} {'p99':>7}  {'bytes':>8}")
    for timing in timings:
        flag = "" if timing.p95 < TARGET_P95_MS else "  over target"
        print(
            f"  {timing.name:<{width}}  {timing.median:7.1f} {timing.p95:7.1f} "
            f"{timing.p99:7.1f}  {timing.size_bytes:8,}{flag}"
        )
    over = [timing.name for timing in timings if timing.p95 >= TARGET_P95_MS]
    print(
        f"  target p95 < {TARGET_P95_MS:.0f} ms: "
        + ("met by every route" if not over else f"missed by {len(over)} of {len(timings)}")
    )
    print(
        f"  machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, SQLite (status store and tickets); servers and client "
        f"on the same host; 1-minute load average {load[0]:.1f} before, {load[1]:.1f} after"
    )


if __name__ == "__main__":
    main()
