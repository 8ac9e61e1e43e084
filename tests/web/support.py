"""Helpers of the web app tests: the seeded fleet (two merchants), snapshots and
transactions fed through the real status store output, tickets opened through a real
ticket bridge's webhook, cases in the real case store, and servers in threads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from posfleet.config import PosfleetConfig, parse_config
from posfleet.exporters.status_store.sink import StatusStoreSink
from posfleet.payments.index import OpenCase
from posfleet.payments.model import CaseKind, SaleFacts
from posfleet.payments.store import CaseStore
from posfleet.telemetry import StatusSnapshot, TransactionEvent

BRIDGE_TOKEN = "web-test-bridge-token"
PASSWORDS = {
    "it-admin": "it-admin-password-1",
    "alice": "alice-password-123",
    "bob": "bob-password-12345",
}
"""Users of the seeded world: it-admin (IT), alice (merchant M-A), bob (merchant M-B)."""
MERCHANT_OF = {"alice": "M-A", "bob": "M-B"}

FLEET_YAML = """
merchants:
  - {{id: M-A, name: Alpha Kiosk}}
  - {{id: M-B, name: Beta Mart}}
stores:
  - id: S-A1
    merchant: M-A
    name: Alpha Hauptbahnhof
    region: eu-central
    timezone: Europe/Berlin
    address: {{street: Europaplatz 1, city: Berlin}}
    terminals:
      - {{id: T-A1, driver: http, connection: {{url: "http://127.0.0.1:1/status"}}}}
      - {{id: T-A2, driver: http, connection: {{url: "http://127.0.0.1:1/status"}}}}
  - id: S-A2
    merchant: M-A
    name: Alpha Airport
    region: eu-central
    timezone: Europe/Berlin
    terminals:
      - {{id: T-A3, driver: http, connection: {{url: "http://127.0.0.1:1/status"}}}}
  - id: S-B1
    merchant: M-B
    name: Beta Nanjing Road
    region: cn-east
    timezone: Asia/Shanghai
    terminals:
      - {{id: T-B1, driver: http, connection: {{url: "http://127.0.0.1:1/status"}}}}
      - {{id: T-B2, driver: http, connection: {{url: "http://127.0.0.1:1/status"}}}}
buffer:
  directory: {root}/buffer
  max_bytes: 16777216
status_store:
  database: {root}/status.sqlite3
  flush_interval_seconds: 0.05
payments:
  database: {root}/payments.sqlite3
tickets:
  database: {root}/tickets.sqlite3
  bearer_tokens: ["{token}"]
web:
  cookie_secure: false
  tickets_url: {tickets_url}
  tickets_token: {token}
  login_max_failures_per_username: 3
  login_max_failures_per_address: 6
  stale_after_seconds: 3600    # the seeded snapshots stay fresh however slow the machine
"""

STORE_OF = {"T-A1": "S-A1", "T-A2": "S-A1", "T-A3": "S-A2", "T-B1": "S-B1", "T-B2": "S-B1"}
MERCHANT_OF_STORE = {"S-A1": "M-A", "S-A2": "M-A", "S-B1": "M-B"}
REGION_OF_STORE = {"S-A1": "eu-central", "S-A2": "eu-central", "S-B1": "cn-east"}


def fleet_config(root: Path, tickets_url: str = "http://127.0.0.1:9") -> PosfleetConfig:
    return parse_config(
        FLEET_YAML.format(root=root, tickets_url=tickets_url, token=BRIDGE_TOKEN), "fleet.yml"
    )


def snapshot(
    terminal: str,
    at: datetime,
    *,
    paper: str = "ok",
    lines: int = 0,
    link_up: bool = True,
    packet_loss: float = 0.0,
    latency_ms: float = 180.0,
    printer_online: bool = True,
    **extra: Any,
) -> StatusSnapshot:
    """A snapshot of a seeded terminal (identity from the seeded fleet)."""
    store = STORE_OF[terminal]
    data: dict[str, Any] = {
        "terminal_id": terminal,
        "merchant_id": MERCHANT_OF_STORE[store],
        "store_id": store,
        "region": REGION_OF_STORE[store],
        "model": "A920",
        "vendor": "PAX",
        "observed_at": at.isoformat(),
        "printer": {"online": printer_online, "paper": paper,
                    "receipt_lines_printed_total": lines},
        "network": {"interface": "wifi", "link_up": link_up, "packet_loss_ratio": packet_loss,
                    "acquirer_latency_ms": latency_ms},
        "screen": {"display_ok": True, "touch_responsive": True},
        "system": {"battery_percent": 80.0, "charging": True},
        **extra,
    }
    return StatusSnapshot.model_validate_json(json.dumps(data))


def transaction(
    terminal: str, at: datetime, number: int, *, outcome: str = "approved", **extra: Any
) -> TransactionEvent:
    store = STORE_OF[terminal]
    data: dict[str, Any] = {
        "transaction_id": f"{terminal}-tx-{number}",
        "terminal_id": terminal,
        "merchant_id": MERCHANT_OF_STORE[store],
        "store_id": store,
        "occurred_at": at.isoformat(),
        "amount_minor": 1250,
        "currency": "EUR",
        "outcome": outcome,
        **extra,
    }
    return TransactionEvent.model_validate_json(json.dumps(data))


async def write_status_async(
    config: PosfleetConfig,
    snapshots: Sequence[StatusSnapshot] = (),
    transactions: Sequence[TransactionEvent] = (),
    *,
    sink: StatusStoreSink | None = None,
) -> None:
    """Feed snapshots and transactions through the status store output and wait until they
    are in the database (a new sink unless one is given; a given sink stays open)."""
    own = sink is None
    sink = sink or StatusStoreSink.from_config(config)
    await sink.start()
    for item in snapshots:
        await sink.publish(item)
    for event in transactions:
        await sink.publish_transaction(event)
    async with asyncio.timeout(20):
        await sink.wait_written()
    if own:
        await sink.close()


def write_status(
    config: PosfleetConfig,
    snapshots: Sequence[StatusSnapshot] = (),
    transactions: Sequence[TransactionEvent] = (),
) -> None:
    """:func:`write_status_async` from synchronous code (fixtures, browser tests)."""
    asyncio.run(write_status_async(config, snapshots, transactions))


def seed_status(config: PosfleetConfig, now: datetime) -> None:
    """The seeded fleet's state: T-A1 ready, T-A2 paper low (about 17 minutes left), T-A3
    network unstable, T-B1 printer fault, T-B2 ready; 10 minutes of snapshots each, and
    transactions with several cause groups."""
    start = now - timedelta(minutes=10)
    snapshots: list[StatusSnapshot] = []
    for minute in range(11):
        at = start + timedelta(minutes=minute)
        lines = minute * 12
        snapshots += [
            snapshot("T-A1", at, lines=lines),
            snapshot("T-A2", at, lines=lines, paper="near_end" if minute >= 6 else "ok"),
            snapshot("T-A3", at, lines=lines, packet_loss=0.2 if minute >= 5 else 0.0),
            snapshot("T-B1", at, lines=lines, printer_online=minute < 4),
            snapshot("T-B2", at, lines=lines),
        ]
    transactions = [
        transaction("T-A1", start + timedelta(minutes=1), 1),
        transaction("T-A1", start + timedelta(minutes=2), 2, outcome="declined",
                    host_response_code="51"),
        transaction("T-A1", start + timedelta(minutes=3), 3, outcome="timeout",
                    local_error="network_timeout"),
        transaction("T-A1", start + timedelta(minutes=4), 4, outcome="failed",
                    local_error="operator_cancelled"),
        transaction("T-B1", start + timedelta(minutes=2), 1, outcome="failed",
                    local_error="printer_fault"),
        transaction("T-B1", start + timedelta(minutes=3), 2),
    ]
    write_status(config, snapshots, transactions)


def alert(terminal: str, alertname: str, summary: str, *, team: str = "technician",
          starts_at: datetime) -> dict[str, Any]:
    store = STORE_OF[terminal]
    return {
        "status": "firing",
        "labels": {
            "alertname": alertname, "severity": "warning", "team": team,
            "component": "printer", "terminal": terminal, "store": store,
            "merchant": MERCHANT_OF_STORE[store], "region": REGION_OF_STORE[store],
        },
        "annotations": {"summary": summary, "action": "Load a new paper roll."},
        "startsAt": starts_at.isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": f"fp-{terminal}-{alertname}",
    }


def open_ticket(bridge_url: str, alert_data: dict[str, Any]) -> int:
    """Send one firing alert to the bridge's webhook; return the ticket id."""
    body = {
        "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "posfleet-tickets", "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
        "alerts": [alert_data],
    }
    response = httpx.post(
        f"{bridge_url}/api/v1/alertmanager", json=body,
        headers={"Authorization": f"Bearer {BRIDGE_TOKEN}"}, timeout=10, trust_env=False,
    )
    response.raise_for_status()
    ticket_id = response.json()["tickets"][0]["ticket_id"]
    assert isinstance(ticket_id, int)
    return ticket_id


def seed_case(config: PosfleetConfig, terminal: str, now: datetime, number: int) -> str:
    """Open a charged-but-failed case (reversal failed) for a sale at ``terminal``."""
    store = CaseStore.open(config.payments.database)
    try:
        sale = SaleFacts(
            transaction_id=f"{terminal}-sale-{number}", terminal_id=terminal,
            store_id=STORE_OF[terminal], merchant_id=MERCHANT_OF_STORE[STORE_OF[terminal]],
            occurred_at=now - timedelta(minutes=30), amount_minor=4990, currency="EUR",
            outcome="timeout", stan="000123", masked_pan="625800******1234",
            local_error="network_timeout", reversal_state="failed",
        )
        case = store.open_case(
            OpenCase(CaseKind.REVERSAL_FAILED, sale, (), None, "reversal failed"),
            REGION_OF_STORE[STORE_OF[terminal]], now - timedelta(minutes=20),
        )
        assert case is not None
        return case.case_id
    finally:
        store.dispose()


@dataclass(frozen=True)
class World:
    """The seeded fleet: configuration, bridge URL, and the ids of each merchant's data."""

    root: Path
    config: PosfleetConfig
    bridge_url: str
    tickets: dict[str, int]
    """Ticket id per terminal (T-A2, T-B1)."""
    cases: dict[str, str]
    """Case id per merchant (M-A, M-B)."""


def now_utc() -> datetime:
    return datetime.now(UTC)
