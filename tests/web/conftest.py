"""Fixtures of the web app tests (and of the browser tests in tests/web/browser/).

- ``world`` (module): a temp folder with the seeded fleet's configuration, a REAL ticket
  bridge served by uvicorn on a free port (tickets for T-A2 and T-B1 opened through its
  webhook), the status store fed through the real ``status_store`` output, two cases in
  the real case store, and three users (see ``support.PASSWORDS``).
- ``web_app``: the web app on the world (a new app, so rate limits start fresh).
- ``client``: a ``TestClient`` of ``web_app``; ``login(client, user)`` signs in.
- ``web_server``: ``web_app`` served by uvicorn on a free port; yields its base URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from posfleet.alerts.bridge.bridge import TicketBridge
from posfleet.alerts.bridge.inventory import Inventory
from posfleet.web.accounts import ensure_user
from posfleet.web.app import create_app
from posfleet.web.context import WebContext, status_database
from tests.alerts.bridge.support import serving
from tests.web.support import (
    MERCHANT_OF,
    PASSWORDS,
    World,
    alert,
    fleet_config,
    now_utc,
    open_ticket,
    seed_case,
    seed_status,
)

TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
"""argon2id with small costs: the production defaults take ~0.5 s per hash on 2 cores."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("web-world")
    base = fleet_config(root)
    bridge = TicketBridge(base.tickets, Inventory(base), background=False)
    with serving(bridge.app) as bridge_url:
        config = fleet_config(root, bridge_url)
        now = now_utc()
        seed_status(config, now)
        tickets = {
            "T-A2": open_ticket(bridge_url, alert(
                "T-A2", "PrinterPaperNearEnd", "Receipt paper low at T-A2", starts_at=now)),
            "T-B1": open_ticket(bridge_url, alert(
                "T-B1", "PrinterFault", "Receipt printer fault at T-B1", starts_at=now)),
        }
        cases = {"M-A": seed_case(config, "T-A1", now, 1), "M-B": seed_case(config, "T-B1", now, 2)}
        database = status_database(config)
        for username, password in PASSWORDS.items():
            merchant = MERCHANT_OF.get(username)
            ensure_user(database, username, password, "merchant" if merchant else "it", merchant,
                        hasher=TEST_HASHER)
        yield World(root, config, bridge_url, tickets, cases)


@pytest.fixture
def web_app(world: World) -> FastAPI:
    return create_app(WebContext.from_config(world.config, password_hasher=TEST_HASHER))


@pytest.fixture
def client(web_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(web_app, base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def web_server(web_app: FastAPI) -> Iterator[str]:
    with serving(web_app) as url:
        yield url


def login_csrf(client: TestClient) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    token = client.cookies.get("posfleet_login_csrf")
    assert isinstance(token, str)
    return token


def login(client: TestClient, username: str, password: str | None = None) -> Response:
    """Sign in through the form (CSRF cookie and field included); returns the answer."""
    token = login_csrf(client)
    answer: Response = client.post(
        "/login",
        data={"username": username, "password": password or PASSWORDS[username],
              "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    return answer


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, read from a page's forms (the logout form has it)."""
    page = client.get("/account")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)
