"""The REST API: list and filter, one ticket with history, acknowledge, assign, comment,
close, the effective config with secrets redacted, and /metrics."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from posfleet.alerts.bridge.bridge import TicketBridge
from tests.alerts.bridge.conftest import BridgeFactory
from tests.alerts.bridge.support import AUTH, TOKEN, FakeClock, alert, notification

WEBHOOK = "/api/v1/alertmanager"


@pytest.fixture
def fleet(client: TestClient, clock: FakeClock) -> TestClient:
    """Three tickets: printer at T-0001 (critical, technician), screen at T-0002 (warning,
    technician), and a store-wide network fault (critical, it) an hour later."""
    client.post(WEBHOOK, json=notification(alert()), headers=AUTH)
    client.post(
        WEBHOOK,
        json=notification(
            alert(terminal="T-0002", alertname="ScreenDead", component="screen", severity="warning")
        ),
        headers=AUTH,
    )
    clock.advance(hours=1)
    client.post(
        WEBHOOK,
        json=notification(
            alert(terminal=None, alertname="StoreOffline", component="network", team="it")
        ),
        headers=AUTH,
    )
    return client


def listed(client: TestClient, **params: str) -> list[str]:
    response = client.get("/api/v1/tickets", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return [ticket["alertname"] for ticket in response.json()["tickets"]]


def test_list_filters_by_every_criterion(fleet: TestClient) -> None:
    assert listed(fleet) == ["StoreOffline", "ScreenDead", "PrinterPaperOut"]
    assert listed(fleet, team="it") == ["StoreOffline"]
    assert listed(fleet, severity="warning") == ["ScreenDead"]
    assert listed(fleet, terminal="T-0001") == ["PrinterPaperOut"]
    assert listed(fleet, component="screen") == ["ScreenDead"]
    assert listed(fleet, store="S-001", merchant="M-01", team="technician") == [
        "ScreenDead", "PrinterPaperOut",
    ]
    assert listed(fleet, since="2026-03-02T10:00:00Z") == ["StoreOffline"]
    assert listed(fleet, status="open", limit="1", offset="1") == ["ScreenDead"]
    assert listed(fleet, store="S-999") == []


def test_a_bad_filter_names_the_parameter(fleet: TestClient) -> None:
    response = fleet.get("/api/v1/tickets", params={"status": "burning"}, headers=AUTH)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "status"]


def _post(client: TestClient, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(path, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_acknowledge_assign_comment_and_close_are_kept_in_the_history(
    fleet: TestClient, clock: FakeClock
) -> None:
    clock.advance(minutes=3)
    acked = _post(fleet, "/api/v1/tickets/1/acknowledge", {"by": "alice"})
    assigned = _post(fleet, "/api/v1/tickets/1/assign", {"assignee": "bob", "by": "alice"})
    commented = _post(fleet, "/api/v1/tickets/1/comments", {"text": "Roll ordered", "by": "bob"})
    clock.advance(minutes=30)
    closed = _post(fleet, "/api/v1/tickets/1/close", {"reason": "paper loaded", "by": "bob"})

    assert (acked["status"], acked["acknowledged_by"]) == ("acknowledged", "alice")
    assert assigned["assignee"] == "bob"
    assert commented["history"][-1]["text"] == "Roll ordered"
    assert closed["status"] == "closed"
    assert closed["closed_at"] == "2026-03-02T11:03:00Z"
    assert [(e["kind"], e["actor"], e["at"]) for e in closed["history"]] == [
        ("opened", "posfleet", "2026-03-02T09:30:00Z"),
        ("acknowledged", "alice", "2026-03-02T10:33:00Z"),
        ("assigned", "alice", "2026-03-02T10:33:00Z"),
        ("comment", "bob", "2026-03-02T10:33:00Z"),
        ("closed", "bob", "2026-03-02T11:03:00Z"),
    ]
    assert closed["history"][-1]["text"] == "Closed by bob: paper loaded"


def test_the_actor_defaults_to_the_caller(fleet: TestClient) -> None:
    acked = _post(fleet, "/api/v1/tickets/2/acknowledge")

    assert acked["acknowledged_by"] == "token"


def test_changes_to_a_missing_or_closed_ticket_are_refused_clearly(fleet: TestClient) -> None:
    _post(fleet, "/api/v1/tickets/1/close")

    missing = fleet.post("/api/v1/tickets/99/acknowledge", headers=AUTH)
    closed_again = fleet.post("/api/v1/tickets/1/close", headers=AUTH)
    assign_closed = fleet.post("/api/v1/tickets/1/assign", json={"assignee": "x"}, headers=AUTH)
    empty_comment = fleet.post("/api/v1/tickets/1/comments", json={"text": ""}, headers=AUTH)

    assert (missing.status_code, missing.json()["detail"]) == (404, "no ticket 99")
    assert (closed_again.status_code, closed_again.json()["detail"]) == (
        409, "ticket 1 is already closed",
    )
    assert assign_closed.status_code == 409
    assert empty_comment.status_code == 422
    assert empty_comment.json()["detail"][0]["loc"] == ["body", "text"]


def test_a_closed_ticket_whose_fault_fires_again_reopens(fleet: TestClient) -> None:
    _post(fleet, "/api/v1/tickets/1/close", {"reason": "looked fine"})
    again = _post(fleet, WEBHOOK, notification(alert()))

    assert again["tickets"][0] == {**again["tickets"][0], "ticket_id": 1, "outcome": "reopened"}


def test_config_shows_effective_settings_with_secrets_redacted(
    make_bridge: BridgeFactory,
) -> None:
    bridge = make_bridge(
        database="postgresql+psycopg://bridge:s3cret@db.example:5432/tickets",
        redmine={"url": "http://redmine.example", "project": "pos", "api_key": "k3y"},
    )
    # No lifespan: the database in the settings is only shown, never opened.
    shown = TestClient(bridge.app).get("/config", headers=AUTH)

    text = shown.text
    assert shown.status_code == 200
    assert "s3cret" not in text
    assert "k3y" not in text
    assert TOKEN not in text
    body = shown.json()
    assert body["database"] == "postgresql+psycopg://bridge:***@db.example:5432/tickets"
    assert body["redmine"]["api_key"] == "**********"
    assert body["close_grace_seconds"] == 300.0


def test_metrics_show_tickets_per_status_and_the_queue(
    fleet: TestClient, bridge: TicketBridge
) -> None:
    _post(fleet, "/api/v1/tickets/1/close")
    text = fleet.get("/metrics").text

    assert 'posfleet_tickets{status="open",team="it"} 1.0' in text
    assert 'posfleet_tickets{status="open",team="technician"} 1.0' in text
    assert 'posfleet_tickets{status="closed",team="technician"} 1.0' in text
    assert 'posfleet_tickets{status="acknowledged",team=""} 0.0' in text
    assert "posfleet_tickets_opened_total 3.0" in text
    assert 'posfleet_tickets_closed_total{reason="manual"} 1.0' in text
    assert 'posfleet_tickets_webhooks_received_total{result="accepted"} 3.0' in text
