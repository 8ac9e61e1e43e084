"""Case tickets: an Alertmanager v4 payload the bridge accepts, one urgent ticket per case
(even two cases on one terminal), resolved when the case closes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from posfleet.alerts.bridge.intake import facts_of
from posfleet.alerts.bridge.inventory import Inventory
from posfleet.alerts.bridge.model import TicketStatus
from posfleet.alerts.bridge.payload import WebhookMessage
from posfleet.alerts.bridge.store import TicketFilter, TicketStore
from posfleet.payments.tickets import BridgeWebhook, TicketStoreChannel
from tests.payments.support import Clock, make_engine, reversal, timeout


class FakeBridge:
    """Records webhook bodies and headers; answers like the bridge."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.authorization: list[str | None] = []
        self.status = 200

    async def handle(self, request: web.Request) -> web.Response:
        self.authorization.append(request.headers.get("Authorization"))
        self.bodies.append(json.loads(await request.read()))
        return web.json_response({"tickets": []}, status=self.status)


@pytest.fixture
async def bridge() -> AsyncIterator[tuple[FakeBridge, str]]:
    fake = FakeBridge()
    app = web.Application()
    app.router.add_post("/api/v1/alertmanager", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_the_webhook_payload_is_what_the_bridge_accepts(
    tmp_path: Path, bridge: tuple[FakeBridge, str]
) -> None:
    fake, url = bridge
    channel = BridgeWebhook(url, "s3cret")
    engine = make_engine(tmp_path, Clock(), tickets=channel)
    await engine.publish_transaction(timeout("T-1-000001", rrn="633012345678"))
    await engine.publish_transaction(reversal("T-1-000001", "failed", attempt=3))
    await channel.close()
    [body] = fake.bodies
    assert fake.authorization == ["Bearer s3cret"]
    message = WebhookMessage.model_validate(body)
    [alert] = message.alerts
    assert alert.status == "firing"
    assert alert.labels | {"case": "x"} == {
        "alertname": "ChargedButFailedSuspected",
        "severity": "critical",
        "team": "it",
        "component": "payments",
        "terminal": "T-1",
        "store": "S-1",
        "merchant": "acme",
        "region": "eu-west",
        "kind": "reversal_failed",
        "case": "x",
    }
    assert alert.labels["case"].startswith("pc-")
    assert "12.50 EUR" in alert.annotations["summary"]
    assert "RRN 633012345678" in alert.annotations["description"]
    assert set(alert.annotations) == {"summary", "description", "action", "runbook_url"}


async def test_a_bridge_error_keeps_the_ticket_due(
    tmp_path: Path, bridge: tuple[FakeBridge, str]
) -> None:
    fake, url = bridge
    fake.status = 503
    channel = BridgeWebhook(url, "s3cret")
    engine = make_engine(tmp_path, Clock(), tickets=channel)
    await engine.publish_transaction(reversal("T-1-000001", "failed"))
    await engine.sweep()
    assert engine.stats.tickets_due == 1
    fake.status = 200
    await engine.sweep()
    assert engine.stats.tickets_due == 0
    await channel.close()


async def test_one_ticket_per_case_even_on_one_terminal_and_resolved_on_close(
    tmp_path: Path,
) -> None:
    tickets = TicketStore.open(str(tmp_path / "tickets.sqlite3"))
    tickets.create_schema()
    channel = TicketStoreChannel(tickets, Inventory())
    clock = Clock()
    engine = make_engine(tmp_path, clock, tickets=channel)
    await engine.publish_transaction(timeout("T-1-000001"))
    await engine.publish_transaction(timeout("T-1-000002", seconds=10, stan="000813"))
    clock.seconds = 2000
    await engine.sweep()
    opened = tickets.list_tickets(TicketFilter())
    assert len(opened) == 2
    assert {ticket.priority for ticket in opened} == {"urgent"}
    assert {ticket.status for ticket in opened} == {TicketStatus.OPEN}
    await engine.publish_transaction(reversal("T-1-000001", seconds=2100))
    statuses = sorted(ticket.status for ticket in tickets.list_tickets(TicketFilter()))
    assert statuses == [TicketStatus.OPEN, TicketStatus.RESOLVED]
    await channel.close()


def test_without_the_case_label_keys_stay_as_they_were() -> None:
    from posfleet.alerts.bridge.keys import ticket_key

    labels = {"alertname": "A", "component": "c", "terminal": "T-1"}
    assert ticket_key(labels).identity == "alertname=A\ncomponent=c\nterminal=T-1"
    assert ticket_key(labels | {"case": "pc-1"}).identity.endswith("\ncase=pc-1")
    facts = facts_of(
        WebhookMessage.model_validate(
            {
                "version": "4", "groupKey": "g", "status": "firing", "receiver": "r",
                "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                "externalURL": "",
                "alerts": [
                    {"status": "firing", "labels": labels | {"case": case},
                     "startsAt": "2026-11-25T08:00:00Z"}
                    for case in ("pc-1", "pc-2")
                ],
            }
        ),
        Inventory(),
    )
    assert len({fact.key for fact in facts}) == 2
