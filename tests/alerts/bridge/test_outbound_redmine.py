"""The Redmine target against a real Redmine 5.0 (Debian's package; see redmine_server.py)."""

from __future__ import annotations

import secrets

import httpx
import pytest

from posfleet.alerts.bridge.bridge import TicketBridge
from posfleet.alerts.bridge.config import RedmineTargetSettings
from posfleet.alerts.bridge.model import Ticket
from posfleet.alerts.bridge.targets.redmine import RedmineTarget
from tests.alerts.bridge.conftest import BridgeFactory
from tests.alerts.bridge.redmine_server import RedmineServer
from tests.alerts.bridge.support import AUTH, FakeClock, alert, notification

pytestmark = [
    pytest.mark.server,
    pytest.mark.parametrize("database", ["sqlite"], indirect=True),
]


async def _fire(bridge: TicketBridge, terminal: str, status: str = "firing") -> Ticket:
    transport = httpx.ASGITransport(app=bridge.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        answer = await client.post(
            "/api/v1/alertmanager",
            json=notification(alert(status, terminal=terminal, ends_at=bridge.clock())),
            headers=AUTH,
        )
    assert answer.status_code == 200, answer.text
    return bridge.store.get(answer.json()["tickets"][0]["ticket_id"])


@pytest.mark.parametrize("by_custom_field", [True, False], ids=["custom-field", "subject-tag"])
async def test_redmine_gets_one_issue_that_follows_the_ticket(
    make_bridge: BridgeFactory, redmine: RedmineServer, clock: FakeClock, by_custom_field: bool
) -> None:
    settings = {
        "url": redmine.url,
        "api_key": redmine.api_key,
        "project": redmine.project,
        "key_custom_field_id": redmine.custom_field_id if by_custom_field else None,
    }
    bridge = make_bridge(redmine=settings)
    await bridge.start()
    terminal = f"T-{secrets.token_hex(3)}"  # the Redmine is shared by the whole session
    ticket = await _fire(bridge, terminal)
    await bridge.tick()
    await _fire(bridge, terminal)  # a repeat: nothing new in Redmine
    await bridge.tick()

    [issue] = [i for i in redmine.issues(project_id=redmine.project) if ticket.tag in i["subject"]]
    assert issue["subject"].startswith(f"[{ticket.tag}] Receipt printer out of paper")
    assert issue["priority"]["name"] == "Urgent"
    assert "Address: Europaplatz 1, 10557 Berlin, DE" in issue["description"]
    assert "Suggested action: Load a new 80 mm paper roll" in issue["description"]
    if by_custom_field:
        assert {"id": redmine.custom_field_id, "name": "posfleet key", "value": ticket.tag} in (
            issue["custom_fields"]
        )
    assert bridge.store.get(ticket.id).remote[0].remote_id == str(issue["id"])

    await _fire(bridge, terminal, "resolved")
    clock.advance(minutes=5)
    await bridge.tick()
    await bridge.tick()
    closed = redmine.issue(str(issue["id"]))
    assert closed["status"]["name"] == "Closed"
    notes = [j["notes"] for j in closed["journals"]]
    assert notes[0].startswith("Resolved: the fault cleared")
    assert notes[1].startswith("Closed: the fault stayed clear for the grace period")

    clock.advance(hours=1)
    await _fire(bridge, terminal)
    await bridge.tick()
    reopened = redmine.issue(str(issue["id"]))
    assert reopened["status"]["name"] == "New"
    assert reopened["journals"][-1]["notes"].startswith("Reopened")
    await bridge.aclose()


async def test_an_issue_created_before_a_lost_answer_is_found_not_duplicated(
    make_bridge: BridgeFactory, redmine: RedmineServer
) -> None:
    settings = RedmineTargetSettings(
        url=redmine.url, api_key=redmine.api_key, project=redmine.project,
        key_custom_field_id=redmine.custom_field_id,
    )
    bridge = make_bridge(redmine=settings.model_dump())
    await bridge.start()
    ticket = await _fire(bridge, f"T-{secrets.token_hex(3)}")
    # A bridge that crashed (or timed out) after Redmine created the issue left it behind.
    lost = await RedmineTarget(settings).create(ticket, "lost")

    await bridge.tick()

    found = redmine.issues(project_id=redmine.project, **{
        f"cf_{redmine.custom_field_id}": ticket.tag
    })
    assert [str(i["id"]) for i in found] == [lost.remote_id]
    assert bridge.store.get(ticket.id).remote[0].remote_id == lost.remote_id
    await bridge.aclose()
