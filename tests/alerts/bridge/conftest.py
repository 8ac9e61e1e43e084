"""Fixtures of the ticket bridge tests: a fresh ticket database on SQLite and PostgreSQL,
bridges with a fake clock, and a real Redmine (see redmine_server.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from posfleet.alerts.bridge.bridge import TicketBridge
from posfleet.alerts.bridge.database import open_engine
from posfleet.alerts.bridge.inventory import Inventory
from posfleet.alerts.bridge.schema import metadata
from posfleet.alerts.bridge.targets.base import TicketTarget
from posfleet.config import parse_config
from posfleet.config.models import TicketsSettings
from tests.alerts.bridge.redmine_server import redmine as redmine
from tests.alerts.bridge.support import PASSWORD, TOKEN, USER, FakeClock, sqlalchemy_url

FLEET = """
merchants:
  - {id: M-01, name: Kiosk Group}
stores:
  - id: S-001
    merchant: M-01
    name: Kiosk Hauptbahnhof
    region: eu-central
    address: {street: Europaplatz 1, city: Berlin, postcode: "10557", country: DE}
    terminals:
      - {id: T-0001, driver: http, connection: {url: "http://10.0.0.11:8080/status"}}
      - {id: T-0002, driver: http, connection: {url: "http://10.0.0.12:8080/status"}}
"""

BridgeFactory = Callable[..., TicketBridge]


@pytest.fixture
def inventory() -> Inventory:
    return Inventory(parse_config(FLEET))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A ticket database URL, empty, on SQLite (temp file) and on PostgreSQL."""
    if request.param == "sqlite":
        yield str(tmp_path / "tickets.sqlite3")
        return
    url = sqlalchemy_url(request.getfixturevalue("postgres_dsn"))
    yield url
    engine = open_engine(url)
    metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_bridge(
    database: str, inventory: Inventory, clock: FakeClock
) -> Iterator[BridgeFactory]:
    """Bridges on the test's database, background loop off: tests call ``tick()``."""
    made: list[TicketBridge] = []

    def make(targets: Mapping[str, TicketTarget] | None = None, **settings: Any) -> TicketBridge:
        values: dict[str, Any] = {
            "database": database,
            "bearer_tokens": [TOKEN],
            "basic_auth": {USER: PASSWORD},
            "busy_timeout_seconds": 2.0,
            **settings,
        }
        bridge = TicketBridge(
            TicketsSettings(**values),
            inventory,
            clock=clock,
            jitter=lambda: 0.5,
            background=False,
            targets=targets,
        )
        made.append(bridge)
        return bridge

    yield make
    for bridge in made:
        bridge.store.dispose()


@pytest.fixture
def bridge(make_bridge: BridgeFactory) -> TicketBridge:
    return make_bridge()


@pytest.fixture
def client(bridge: TicketBridge) -> Iterator[TestClient]:
    """A TestClient of the bridge, its lifespan (schema creation) run."""
    with TestClient(bridge.app) as test_client:
        yield test_client
