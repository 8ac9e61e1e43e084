"""The Jira target against a recorded-contract fake of REST API v2 (see jira_fake.py)."""

from __future__ import annotations

import httpx
import pytest

from posfleet.alerts.bridge.config import JiraTargetSettings
from posfleet.alerts.bridge.targets.jira import JiraTarget
from tests.alerts.bridge.conftest import BridgeFactory
from tests.alerts.bridge.jira_fake import FakeJira
from tests.alerts.bridge.support import AUTH, FakeClock, alert, notification

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


async def test_jira_gets_one_issue_per_ticket_and_follows_its_life(
    make_bridge: BridgeFactory, clock: FakeClock
) -> None:
    jira = FakeJira()
    settings = JiraTargetSettings(
        url="https://jira.example", project_key="OPS", username="bot", api_token="t0ken"
    )
    bridge = make_bridge(targets={"jira": JiraTarget(settings, transport=jira.transport)},
                         jira=settings.model_dump())
    await bridge.start()
    transport = httpx.ASGITransport(app=bridge.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        answer = await client.post(
            "/api/v1/alertmanager", json=notification(alert()), headers=AUTH
        )
        ticket_id = answer.json()["tickets"][0]["ticket_id"]
        jira.fail_next_create_after_storing = True
        await bridge.tick()  # created, but the answer is lost
        clock.advance(seconds=5)
        await bridge.tick()  # searched by label first: found, not created again

        [issue] = jira.issues.values()
        ticket = (await client.get(f"/api/v1/tickets/{ticket_id}", headers=AUTH)).json()
        assert ticket["remote"] == [
            {"system": "jira", "remote_id": "OPS-1", "url": "https://jira.example/browse/OPS-1"}
        ]
        assert issue.fields["labels"] == [ticket["tag"], "posfleet"]
        assert issue.fields["priority"] == {"name": "Highest"}
        assert issue.fields["summary"].startswith(f"[{ticket['tag']}] Receipt printer out of paper")
        assert "Address: Europaplatz 1, 10557 Berlin, DE" in issue.fields["description"]
        assert "Suggested action: Load a new 80 mm paper roll" in issue.fields["description"]

        await client.post(
            f"/api/v1/tickets/{ticket_id}/comments", json={"text": "Paper ordered", "by": "bob"},
            headers=AUTH,
        )
        await client.post(f"/api/v1/tickets/{ticket_id}/close", headers=AUTH)
        await bridge.tick()
        await bridge.tick()
        assert issue.status == "Done"
        clock.advance(minutes=10)
        await client.post("/api/v1/alertmanager", json=notification(alert()), headers=AUTH)
        await bridge.tick()

    assert issue.status == "To Do"
    assert issue.comments[0] == "bob: Paper ordered"
    assert issue.comments[1].startswith("Closed by token")
    assert issue.comments[2].startswith("Reopened: the fault fired again")
    await bridge.aclose()


async def test_a_missing_transition_is_noted_instead_of_retried_forever(
    make_bridge: BridgeFactory,
) -> None:
    jira = FakeJira()
    settings = JiraTargetSettings(
        url="https://jira.example", project_key="OPS", api_token="pat",
        close_transition="Resolve Issue",
    )
    bridge = make_bridge(targets={"jira": JiraTarget(settings, transport=jira.transport)},
                         jira=settings.model_dump())
    await bridge.start()
    transport = httpx.ASGITransport(app=bridge.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        await client.post("/api/v1/alertmanager", json=notification(alert()), headers=AUTH)
        await bridge.tick()
        await client.post("/api/v1/tickets/1/close", headers=AUTH)
        await bridge.tick()

    [issue] = jira.issues.values()
    assert issue.status == "To Do"
    assert "no transition 'Resolve Issue' is available" in issue.comments[-1]
    await bridge.aclose()
