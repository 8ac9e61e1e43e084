"""Helpers for the ticket bridge tests: notifications, a fake clock, servers in threads."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL

from tests.fixtures.net import LOOPBACK, free_port

TOKEN = "test-token"
USER, PASSWORD = "am", "am-password"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASIC = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def alert(
    status: str = "firing",
    *,
    alertname: str = "PrinterPaperOut",
    terminal: str | None = "T-0001",
    store: str | None = "S-001",
    component: str = "printer",
    severity: str = "critical",
    team: str = "technician",
    starts_at: datetime = START,
    ends_at: datetime | None = None,
    **extra_labels: str,
) -> dict[str, Any]:
    """One alert as Alertmanager sends it, with the labels and annotations the rules set."""
    labels = {
        "alertname": alertname,
        "severity": severity,
        "team": team,
        "component": component,
        "merchant": "M-01",
        "region": "eu-central",
        **extra_labels,
    }
    if terminal:
        labels["terminal"] = terminal
    if store:
        labels["store"] = store
    return {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": f"Receipt printer out of paper at {terminal or store}",
            "description": "The printer reports paper end (DLE EOT 4 bits 5-6) for 3 min.",
            "runbook_url": "https://runbooks.example/printer#paper-out",
            "action": "Load a new 80 mm paper roll and close the cover.",
            "value": "1",
        },
        "startsAt": starts_at.isoformat().replace("+00:00", "Z"),
        "endsAt": (ends_at.isoformat().replace("+00:00", "Z") if ends_at
                   else "0001-01-01T00:00:00Z"),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=posfleet_printer_paper",
        "fingerprint": "c0ffee0123456789",
    }


def notification(*alerts: dict[str, Any], group_key: str = '{}:{store="S-001"}') -> dict[str, Any]:
    """An Alertmanager webhook payload (version 4) holding ``alerts``."""
    items = list(alerts) or [alert()]
    status = "firing" if any(a["status"] == "firing" for a in items) else "resolved"
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "posfleet-tickets",
        "groupLabels": {"store": "S-001"},
        "commonLabels": {"store": "S-001"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": items,
    }


def sqlalchemy_url(libpq_dsn: str) -> str:
    """The SQLAlchemy URL (psycopg 3) of a libpq connection string."""
    params = conninfo_to_dict(libpq_dsn)
    query = {
        k: str(v) for k, v in params.items()
        if k not in ("user", "password", "host", "port", "dbname") and v is not None
    }
    port = params.get("port")
    url = URL.create(
        "postgresql+psycopg",
        username=str(params["user"]) if params.get("user") else None,
        password=str(params["password"]) if params.get("password") else None,
        host=str(params["host"]) if params.get("host") else None,
        port=int(str(port)) if port else None,
        database=str(params.get("dbname") or "postgres"),
        query=query,
    )
    return url.render_as_string(hide_password=False)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free loopback port; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=LOOPBACK, port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
