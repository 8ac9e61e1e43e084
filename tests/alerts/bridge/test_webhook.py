"""Alertmanager webhooks become one ticket per terminal (or store) and fault, on SQLite and
PostgreSQL: opening, repeats, concurrent copies, resolving, grace, flapping, reopening."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import psycopg
from fastapi.testclient import TestClient

from posfleet.alerts.bridge.bridge import TicketBridge
from posfleet.alerts.bridge.database import database_url
from tests.alerts.bridge.conftest import BridgeFactory
from tests.alerts.bridge.support import (
    AUTH,
    START,
    FakeClock,
    alert,
    notification,
    serving,
)

WEBHOOK = "/api/v1/alertmanager"


def post(client: TestClient, payload: dict[str, Any]) -> dict[str, Any]:
    response = client.post(WEBHOOK, json=payload, headers=AUTH)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def tickets(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/tickets", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["tickets"]
    return found


def ticket(client: TestClient, ticket_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/tickets/{ticket_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def kinds(found: dict[str, Any]) -> list[str]:
    return [entry["kind"] for entry in found["history"]]


def test_a_firing_alert_opens_a_ticket_with_everything_a_technician_needs(
    client: TestClient,
) -> None:
    answer = post(client, notification(alert()))

    [applied] = answer["tickets"]
    assert applied["outcome"] == "opened"
    opened = ticket(client, applied["ticket_id"])
    assert opened["status"] == "open"
    assert opened["priority"] == "urgent"
    assert opened["severity"] == "critical"
    assert opened["team"] == "technician"
    assert (opened["terminal"], opened["store"], opened["component"]) == (
        "T-0001", "S-001", "printer",
    )
    assert opened["store_name"] == "Kiosk Hauptbahnhof"
    assert opened["store_address"] == "Europaplatz 1, 10557 Berlin, DE"
    assert (opened["merchant"], opened["region"]) == ("M-01", "eu-central")
    assert opened["summary"] == "Receipt printer out of paper at T-0001"
    assert opened["description"].startswith("The printer reports paper end")
    assert opened["action"] == "Load a new 80 mm paper roll and close the cover."
    assert opened["runbook_url"] == "https://runbooks.example/printer#paper-out"
    assert opened["generator_url"].startswith("http://prometheus:9090/graph")
    assert opened["annotations"]["value"] == "1"
    assert opened["labels"]["alertname"] == "PrinterPaperOut"
    assert opened["identity"] == "alertname=PrinterPaperOut\ncomponent=printer\nterminal=T-0001"
    assert opened["key"].startswith("pf-")
    assert opened["tag"] == f"{opened['key']}-{opened['id']}"
    assert opened["fired_at"] == "2026-03-02T09:30:00Z"
    [entry] = opened["history"]
    assert entry["kind"] == "opened"
    assert entry["actor"] == "posfleet"
    assert entry["at"] == "2026-03-02T09:30:00Z"


def test_repeats_and_copies_from_ha_alertmanagers_keep_one_ticket(
    client: TestClient, clock: FakeClock
) -> None:
    first = post(client, notification(alert()))["tickets"][0]
    # The second Alertmanager of an HA pair, then a repeat with another group key.
    post(client, notification(alert()))
    clock.advance(hours=4)
    repeat = post(client, notification(alert(), group_key='{}:{alertname="PrinterPaperOut"}'))

    assert repeat["tickets"][0] == {**first, "outcome": "repeat"}
    [only] = tickets(client)
    assert only["notification_count"] == 3
    assert kinds(ticket(client, only["id"])) == ["opened"]


def test_a_changed_alert_updates_its_ticket_and_notes_what_changed(client: TestClient) -> None:
    post(client, notification(alert(severity="warning")))
    answer = post(client, notification(alert(severity="critical")))

    assert answer["tickets"][0]["outcome"] == "updated"
    updated = ticket(client, answer["tickets"][0]["ticket_id"])
    assert updated["priority"] == "urgent"
    assert kinds(updated) == ["opened", "updated"]
    assert "severity: warning -> critical" in updated["history"][1]["text"]


def _post_many(urls: list[str], payload: dict[str, Any], copies: int) -> list[httpx.Response]:
    barrier = threading.Barrier(copies)
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def send(index: int) -> None:
        with httpx.Client(base_url=urls[index % len(urls)], headers=AUTH, timeout=30) as http:
            barrier.wait()
            response = http.post(WEBHOOK, json=payload)
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_twenty_concurrent_copies_of_a_webhook_make_exactly_one_ticket(
    make_bridge: BridgeFactory,
) -> None:
    # Two bridges on one database (two processes behind a load balancer) and 20 clients
    # sending the same notification at once: the in-process lock cannot help across
    # bridges, the unique open key in the database must.
    first, second = make_bridge(), make_bridge()
    with serving(first.app) as url_a, serving(second.app) as url_b:
        responses = _post_many([url_a, url_b], notification(alert()), copies=20)

    assert [r.status_code for r in responses] == [200] * 20
    outcomes = sorted(r.json()["tickets"][0]["outcome"] for r in responses)
    assert outcomes == ["opened"] + ["repeat"] * 19
    assert len({r.json()["tickets"][0]["ticket_id"] for r in responses}) == 1
    found = first.store.list_tickets(_all())
    assert len(found) == 1
    assert found[0].notification_count == 20


def _all() -> Any:
    from posfleet.alerts.bridge.store import TicketFilter

    return TicketFilter()


async def test_a_resolved_alert_adds_a_note_and_closes_after_the_grace_period(
    client: TestClient, bridge: TicketBridge, clock: FakeClock
) -> None:
    ticket_id = post(client, notification(alert()))["tickets"][0]["ticket_id"]
    clock.advance(minutes=10)
    ended = clock.now - timedelta(seconds=30)
    answer = post(client, notification(alert("resolved", ends_at=ended)))

    assert answer["tickets"][0]["outcome"] == "resolved"
    resolved = ticket(client, ticket_id)
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] == "2026-03-02T09:39:30Z"
    assert resolved["close_after"] == "2026-03-02T09:45:00Z"
    assert "the fault cleared at 2026-03-02 09:39:30 UTC" in resolved["history"][-1]["text"]

    clock.advance(minutes=4, seconds=59)
    await bridge.tick()
    assert ticket(client, ticket_id)["status"] == "resolved"

    clock.advance(seconds=1)
    await bridge.tick()
    closed = ticket(client, ticket_id)
    assert closed["status"] == "closed"
    assert closed["closed_at"] == "2026-03-02T09:45:00Z"
    assert kinds(closed) == ["opened", "resolved", "closed"]
    assert bridge.metrics.registry.get_sample_value(
        "posfleet_tickets_closed_total", {"reason": "resolved"}
    ) == 1


async def test_a_fault_that_flaps_within_the_grace_period_keeps_its_ticket_open(
    client: TestClient, bridge: TicketBridge, clock: FakeClock
) -> None:
    ticket_id = post(client, notification(alert()))["tickets"][0]["ticket_id"]
    post(client, notification(alert("resolved", ends_at=clock.now)))
    clock.advance(minutes=2)
    answer = post(client, notification(alert(starts_at=clock.now)))
    clock.advance(minutes=10)
    await bridge.tick()

    assert answer["tickets"][0] == {
        "key": answer["tickets"][0]["key"], "ticket_id": ticket_id, "outcome": "updated",
    }
    flapped = ticket(client, ticket_id)
    assert flapped["status"] == "open"
    assert flapped["close_after"] is None
    assert kinds(flapped) == ["opened", "resolved", "updated"]
    assert "within the grace period" in flapped["history"][-1]["text"]


async def test_a_refire_within_the_reopen_window_reopens_the_same_ticket(
    client: TestClient, bridge: TicketBridge, clock: FakeClock
) -> None:
    ticket_id = post(client, notification(alert()))["tickets"][0]["ticket_id"]
    post(client, notification(alert("resolved", ends_at=clock.now)))
    clock.advance(minutes=5)
    await bridge.tick()
    clock.advance(hours=23)
    answer = post(client, notification(alert(starts_at=clock.now)))

    assert answer["tickets"][0]["outcome"] == "reopened"
    assert answer["tickets"][0]["ticket_id"] == ticket_id
    reopened = ticket(client, ticket_id)
    assert reopened["status"] == "open"
    assert reopened["closed_at"] is None
    assert reopened["reopen_count"] == 1
    assert kinds(reopened) == ["opened", "resolved", "closed", "reopened"]
    assert len(tickets(client)) == 1
    assert bridge.metrics.registry.get_sample_value("posfleet_tickets_reopened_total") == 1


async def test_a_refire_after_the_reopen_window_opens_a_new_ticket(
    client: TestClient, bridge: TicketBridge, clock: FakeClock
) -> None:
    old_id = post(client, notification(alert()))["tickets"][0]["ticket_id"]
    post(client, notification(alert("resolved", ends_at=clock.now)))
    clock.advance(minutes=5)
    await bridge.tick()
    clock.advance(hours=25)
    answer = post(client, notification(alert(starts_at=clock.now)))

    assert answer["tickets"][0]["outcome"] == "opened"
    assert answer["tickets"][0]["ticket_id"] != old_id
    assert sorted(t["status"] for t in tickets(client)) == ["closed", "open"]


def test_each_terminal_and_each_fault_gets_its_own_ticket(client: TestClient) -> None:
    answer = post(
        client,
        notification(
            alert(terminal="T-0001"),
            alert(terminal="T-0002"),
            alert(terminal="T-0001", alertname="CardReaderTamper", component="card_reader"),
            alert(terminal=None, alertname="StoreOffline", component="network", team="it"),
        ),
    )

    assert [a["outcome"] for a in answer["tickets"]] == ["opened"] * 4
    assert len({a["ticket_id"] for a in answer["tickets"]}) == 4
    store_ticket = tickets(client, component="network")[0]
    assert store_ticket["identity"] == "alertname=StoreOffline\ncomponent=network\nstore=S-001"
    assert store_ticket["store_address"] == "Europaplatz 1, 10557 Berlin, DE"
    assert len(tickets(client, terminal="T-0001")) == 2


def test_one_of_two_alerts_of_a_fault_resolving_keeps_the_ticket_open(
    client: TestClient,
) -> None:
    # Two alerts that differ only in a label the key ignores are one fault.
    post(client, notification(alert(instance="a"), alert(instance="b")))
    answer = post(
        client,
        notification(alert("resolved", ends_at=START, instance="a"), alert(instance="b")),
    )

    assert answer["tickets"][0]["outcome"] == "repeat"
    [only] = tickets(client)
    assert only["status"] == "open"


# --- the store is briefly unavailable ----------------------------------------------------------


@contextmanager
def _database_locked(database: str) -> Iterator[None]:
    """Hold the database's write lock from another connection, as a long migration would."""
    url = database_url(database)
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(str(url.database), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as pg_holder:
        pg_holder.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
        yield
        pg_holder.rollback()


def test_a_store_that_does_not_answer_gets_503_so_alertmanager_retries(
    make_bridge: BridgeFactory, database: str
) -> None:
    bridge = make_bridge(busy_timeout_seconds=0.5)
    with TestClient(bridge.app) as client:
        with _database_locked(database):
            refused = client.post(WEBHOOK, json=notification(alert()), headers=AUTH)
        retried = client.post(WEBHOOK, json=notification(alert()), headers=AUTH)

        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "5"
        assert "ticket store unavailable" in refused.json()["detail"]
        assert retried.status_code == 200
        assert retried.json()["tickets"][0]["outcome"] == "opened"
    sample = bridge.metrics.registry.get_sample_value
    assert sample("posfleet_tickets_webhooks_received_total", {"result": "store_unavailable"}) == 1
    assert sample("posfleet_tickets_store_errors_total", {"operation": "webhook"}) == 1
