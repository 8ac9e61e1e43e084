"""Accounts: argon2id passwords, sessions in secure cookies, CSRF on forms, API tokens
hashed at rest, sign-in rate limits (counted), sign-out, and ensure_user for the demo."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from posfleet.config.models import PosfleetConfig
from posfleet.web.accounts import AccountError, AccountStore, ensure_user
from posfleet.web.app import create_app
from posfleet.web.context import WebContext
from tests.web.conftest import TEST_HASHER, csrf_of, login, login_csrf
from tests.web.support import PASSWORDS, World


def metric(client: TestClient, name: str, **labels: str) -> float:
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_passwords_are_stored_as_argon2id_hashes_only(world: World) -> None:
    with sqlite3.connect(world.root / "status.sqlite3") as db:
        rows = dict(db.execute("SELECT username, password_hash FROM web_users").fetchall())
    assert set(rows) == set(PASSWORDS)
    for username, password in PASSWORDS.items():
        assert rows[username].startswith("$argon2id$")
        assert password not in rows[username]


def test_signing_in_sets_an_httponly_samesite_session_cookie_and_signing_out_ends_it(
    client: TestClient,
) -> None:
    answer = login(client, "alice")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/stores"
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie"
                  and v.startswith("posfleet_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert client.get("/stores").status_code == 200
    session = client.cookies.get("posfleet_session")

    out = client.post("/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)

    assert out.status_code == 303
    client.cookies.set("posfleet_session", session or "")
    again = client.get("/stores", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")


def test_cookies_are_secure_unless_the_config_turns_it_off(world: World) -> None:
    config = PosfleetConfig.model_validate(
        {**world.config.model_dump(), "web": {**world.config.web.model_dump(),
                                               "cookie_secure": True}}
    )
    app = create_app(WebContext.from_config(config, password_hasher=TEST_HASHER))
    with TestClient(app, base_url="https://127.0.0.1") as secure_client:
        answer = login(secure_client, "alice")
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie"
                  and v.startswith("posfleet_session="))
    assert "Secure" in cookie


def test_a_wrong_password_is_refused_and_counted(client: TestClient) -> None:
    answer = login(client, "alice", "not-her-password")

    assert answer.status_code == 401
    assert "User name or password is wrong." in answer.text
    assert "Traceback" not in answer.text
    assert metric(client, "posfleet_web_login_failures_total", reason="bad_credentials") == 1
    assert client.get("/stores", follow_redirects=False).status_code == 303


def test_sign_in_without_the_form_token_is_refused(client: TestClient) -> None:
    answer = client.post("/login", data={"username": "alice", "password": PASSWORDS["alice"]},
                         follow_redirects=False)

    assert answer.status_code == 403
    assert metric(client, "posfleet_web_login_failures_total", reason="bad_csrf") == 1
    assert "posfleet_session" not in client.cookies


def test_failed_sign_ins_are_limited_per_user_name_even_with_the_right_password_after(
    client: TestClient,
) -> None:
    for _ in range(3):
        assert login(client, "alice", "guess-guess-guess").status_code == 401

    blocked = login(client, "alice")

    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text
    assert metric(client, "posfleet_web_logins_rate_limited_total", by="username") == 1
    assert login(client, "bob").status_code == 303  # another user is not affected


def test_failed_sign_ins_are_limited_per_client_address(client: TestClient) -> None:
    for number in range(6):
        assert login(client, f"nobody-{number}", "guess-guess-guess").status_code == 401

    blocked = login(client, "bob")

    assert blocked.status_code == 429
    assert metric(client, "posfleet_web_logins_rate_limited_total", by="address") == 1


def test_forms_that_change_something_need_the_session_csrf_token(
    client: TestClient, world: World
) -> None:
    assert login(client, "it-admin").status_code == 303
    ticket = world.tickets["T-A2"]

    for token in ("", "forged-token"):
        answer = client.post(f"/tickets/{ticket}/comment",
                             data={"csrf_token": token, "text": "csrf test"},
                             follow_redirects=False)
        assert answer.status_code == 403

    shown = client.get(f"/api/v1/tickets/{ticket}").json()
    assert all(entry["text"] != "csrf test" for entry in shown["history"])


def test_api_changes_with_a_session_need_the_csrf_header(client: TestClient,
                                                          world: World) -> None:
    assert login(client, "it-admin").status_code == 303
    ticket = world.tickets["T-A2"]

    refused = client.post(f"/api/v1/tickets/{ticket}/comments", json={"text": "no header"})
    accepted = client.post(f"/api/v1/tickets/{ticket}/comments", json={"text": "with header"},
                           headers={"X-CSRF-Token": csrf_of(client)})

    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    assert accepted.status_code == 200
    texts = [entry["text"] for entry in accepted.json()["history"]]
    assert "with header" in texts
    assert "no header" not in texts


def test_api_tokens_are_shown_once_hashed_at_rest_and_revocable(
    client: TestClient, world: World
) -> None:
    assert login(client, "alice").status_code == 303
    page = client.post("/account/tokens", data={"csrf_token": csrf_of(client),
                                                  "name": "shop system"})
    assert page.status_code == 200
    token = page.text.split('data-new-token')[0].rsplit('value="', 1)[1].split('"')[0]
    assert token.startswith("pfw_")
    with sqlite3.connect(world.root / "status.sqlite3") as db:
        stored = [row[0] for row in db.execute("SELECT token_hash FROM web_api_tokens")]
    assert token not in stored

    api = TestClient(client.app, base_url="http://127.0.0.1")
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {"username": "alice", "role": "merchant", "merchant": "M-A"}
    assert api.get("/api/v1/me", headers={"Authorization": "Bearer pfw_wrong"}).status_code == 401

    token_id = AccountStore.open(str(world.root / "status.sqlite3"), hasher=TEST_HASHER)
    try:
        alice = token_id.get_user("alice")
        assert alice is not None
        ids = [t.id for t in token_id.tokens(alice) if t.name == "shop system"]
    finally:
        token_id.dispose()
    revoked = client.post(f"/account/tokens/{ids[0]}/revoke",
                          data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert revoked.status_code == 303
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_pages_do_not_accept_an_api_token_instead_of_a_session(client: TestClient,
                                                               world: World) -> None:
    store = AccountStore.open(str(world.root / "status.sqlite3"), hasher=TEST_HASHER)
    try:
        alice = store.get_user("alice")
        assert alice is not None
        token = store.create_token(alice, "pages")
    finally:
        store.dispose()
    answer = client.get("/stores", headers={"Authorization": f"Bearer {token}"},
                        follow_redirects=False)
    assert answer.status_code == 303


def test_ensure_user_creates_then_updates_the_password_and_refuses_a_role_change(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    database = str(tmp_path_factory.mktemp("accounts") / "accounts.sqlite3")
    ensure_user(database, "demo", "first-password-1", "merchant", "M-1", hasher=TEST_HASHER)
    ensure_user(database, "demo", "second-password-2", "merchant", "M-1", hasher=TEST_HASHER)

    store = AccountStore.open(database, hasher=TEST_HASHER)
    try:
        assert store.authenticate("demo", "second-password-2") is not None
        assert store.authenticate("demo", "first-password-1") is None
        assert store.authenticate("nobody", "second-password-2") is None
    finally:
        store.dispose()
    with pytest.raises(AccountError, match="role merchant"):
        ensure_user(database, "demo", "third-password-3", "it", None, hasher=TEST_HASHER)


@pytest.mark.parametrize(
    ("username", "role", "merchant", "password", "field"),
    [
        ("has space", "it", None, "long-enough-password", "username"),
        ("m", "merchant", None, "long-enough-password", "merchant"),
        ("i", "it", "M-1", "long-enough-password", "merchant"),
        ("short", "it", None, "short", "password"),
        ("r", "admin", None, "long-enough-password", "role"),
    ],
)
def test_bad_user_attributes_are_refused_naming_the_field(
    tmp_path_factory: pytest.TempPathFactory, username: str, role: str,
    merchant: str | None, password: str, field: str,
) -> None:
    store = AccountStore.open(str(tmp_path_factory.mktemp("bad") / "a.sqlite3"),
                              hasher=TEST_HASHER)
    try:
        with pytest.raises(AccountError, match=f"^{field}:"):
            store.add_user(username, password, role, merchant)
    finally:
        store.dispose()


def test_the_login_page_sets_its_own_form_token(client: TestClient) -> None:
    assert login_csrf(client)
