"""Tenant isolation: merchant A tries every page and every API route with merchant B's ids.

The routes are enumerated from the app's router, so a new route with a path parameter this
test does not know fails here until it is added (and so cannot be forgotten). For each
route, B's id and an id that does not exist must get the same answer (403 or 404), and the
answer must not mention B's data; bob (merchant B) gets B's data through the same routes, so
the denial is the scope's doing, not a broken route.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from posfleet.web.accounts import AccountStore
from posfleet.web.app import route_table
from tests.web.conftest import TEST_HASHER, csrf_of, login
from tests.web.support import World

B_MARKERS = ("T-B1", "T-B2", "S-B1", "M-B", "Beta Mart", "Beta Nanjing", "Receipt printer fault")
"""Strings only merchant B's data contains."""
ASKED = {"merchant": "M-B", "store": "S-B1", "terminal": "T-B1", "region": "cn-east"}
PUBLIC = {"/", "/login", "/language", "/healthz", "/metrics", "/openapi.json"}


def b_ids(world: World, bob_token_id: int) -> dict[str, str]:
    return {
        "store_id": "S-B1",
        "terminal_id": "T-B1",
        "ticket_id": str(world.tickets["T-B1"]),
        "case_id": world.cases["M-B"],
        "token_id": str(bob_token_id),
    }


MISSING = {
    "store_id": "S-NOPE",
    "terminal_id": "T-NOPE",
    "ticket_id": "987654",
    "case_id": "pc-000000000000",
    "token_id": "987654",
}


def routes(app: FastAPI) -> list[tuple[str, str]]:
    found = route_table(app)
    assert len(found) >= 30, found  # the app's routes, not an empty walk
    return found


def fill(path: str, ids: dict[str, str]) -> str:
    names = re.findall(r"{(\w+)}", path)
    unknown = [name for name in names if name not in ids]
    assert not unknown, (
        f"{path}: path parameter(s) {unknown} unknown to the isolation test; add merchant B's "
        "id and a missing id for them in tests/web/test_isolation.py"
    )
    for name in names:
        path = path.replace("{" + name + "}", ids[name])
    return path


def normalised(text: str, ids: dict[str, str]) -> str:
    """``text`` with the ids asked for replaced by their names (as whole words)."""
    for name, value in ids.items():
        text = re.sub(rf"(?<![\w=.-]){re.escape(value)}(?![\w-])", f"<{name}>", text)
    return text


def body_for(path: str) -> dict[str, Any]:
    if path.endswith("/assign"):
        return {"assignee": "mallory"}
    if path.endswith(("/comments", "/comment")):
        return {"text": "hello"}
    return {}


def call(client: TestClient, method: str, path: str, *, api_token: str | None,
         csrf: str | None) -> Any:
    if path.startswith("/api/"):
        headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}
        if method == "GET":
            return client.get(path, headers=headers)
        return client.request(method, path, json=body_for(path), headers=headers)
    if method == "GET":
        return client.get(path, follow_redirects=False)
    form = {"csrf_token": csrf or "", **body_for(path)}
    return client.post(path, data=form, follow_redirects=False)


@pytest.fixture
def bob_token_id(world: World) -> int:
    store = AccountStore.open(str(world.root / "status.sqlite3"), hasher=TEST_HASHER)
    try:
        bob = store.get_user("bob")
        assert bob is not None
        store.create_token(bob, "bob's integration")
        return store.tokens(bob)[-1].id
    finally:
        store.dispose()


def token_for(world: World, username: str) -> str:
    store = AccountStore.open(str(world.root / "status.sqlite3"), hasher=TEST_HASHER)
    try:
        user = store.get_user(username)
        assert user is not None
        return store.create_token(user, f"{username} isolation test")
    finally:
        store.dispose()


def test_every_route_with_merchant_b_ids_is_denied_to_merchant_a_like_a_missing_id(
    client: TestClient, web_app: FastAPI, world: World, bob_token_id: int
) -> None:
    assert login(client, "alice").status_code == 303
    csrf = csrf_of(client)
    token = token_for(world, "alice")
    theirs = b_ids(world, bob_token_id)
    checked = 0
    for method, path in routes(web_app):
        if "{" not in path:
            continue
        denied = call(client, method, fill(path, theirs), api_token=token, csrf=csrf)
        missing = call(client, method, fill(path, MISSING), api_token=token, csrf=csrf)
        where = f"{method} {path}"
        assert denied.status_code in (403, 404), f"{where}: {denied.status_code}"
        assert denied.status_code == missing.status_code, where
        # The same answer as for an id that does not exist, apart from echoing the id asked.
        names = re.findall(r"{(\w+)}", path)
        asked = {name: theirs[name] for name in names}
        absent = {name: MISSING[name] for name in names}
        assert normalised(denied.text, asked) == normalised(missing.text, absent), where
        for marker in B_MARKERS:
            assert marker not in normalised(denied.text, asked), f"{where} leaks {marker!r}"
        checked += 1
    assert checked >= 15


def test_every_list_route_shows_merchant_a_nothing_of_merchant_b_even_when_asked(
    client: TestClient, web_app: FastAPI, world: World
) -> None:
    assert login(client, "alice").status_code == 303
    token = token_for(world, "alice")
    asking = "?" + "&".join(f"{name}={value}" for name, value in ASKED.items())
    checked = 0
    for method, path in routes(web_app):
        if "{" in path or method != "GET" or path in PUBLIC:
            continue
        for query in ("", asking):
            answer = call(client, method, path + query, api_token=token, csrf=None)
            assert answer.status_code == 200, f"{path}{query}: {answer.status_code}"
            # Filter fields and links echo what was asked; nothing else may name B.
            shown = answer.text
            for value in ASKED.values():
                shown = shown.replace(value, "<asked>")
            for marker in B_MARKERS:
                assert marker not in shown, f"GET {path}{query} leaks {marker!r}"
        checked += 1
    assert checked >= 10


def test_merchant_b_reads_its_own_data_through_the_same_routes(
    client: TestClient, web_app: FastAPI, world: World, bob_token_id: int
) -> None:
    """The control: the routes above work for the owner, so their denial is the scope's."""
    assert login(client, "bob").status_code == 303
    token = token_for(world, "bob")
    theirs = b_ids(world, bob_token_id)
    for method, path in routes(web_app):
        if "{" not in path or method != "GET":
            continue
        answer = call(client, method, fill(path, theirs), api_token=token, csrf=None)
        assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text[:200]}"
    page = client.get("/stores")
    assert "Beta Nanjing Road" in page.text
    assert "Alpha" not in page.text


def test_anonymous_callers_get_nothing_but_the_sign_in_page(
    client: TestClient, web_app: FastAPI, world: World, bob_token_id: int
) -> None:
    theirs = b_ids(world, bob_token_id)
    for method, path in routes(web_app):
        if path in PUBLIC:
            continue
        answer = call(client, method, fill(path, theirs), api_token=None, csrf=None)
        where = f"{method} {path}"
        if path.startswith("/api/"):
            assert answer.status_code == 401, where
        else:
            assert answer.status_code == 303, where
            assert answer.headers["location"].startswith("/login?next="), where
        for marker in B_MARKERS:
            assert marker not in answer.text, where


def test_a_merchant_cannot_act_on_tickets_even_its_own(
    client: TestClient, world: World
) -> None:
    assert login(client, "alice").status_code == 303
    csrf = csrf_of(client)
    own = world.tickets["T-A2"]
    answer = client.post(f"/tickets/{own}/close", data={"csrf_token": csrf},
                         follow_redirects=False)
    assert answer.status_code == 403
    token = token_for(world, "alice")
    answer = client.post(f"/api/v1/tickets/{own}/acknowledge",
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
    ticket = client.get(f"/api/v1/tickets/{own}", headers={"Authorization": f"Bearer {token}"})
    assert ticket.json()["status"] == "open"
