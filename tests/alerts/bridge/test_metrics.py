"""The bridge's /metrics holds exactly the catalogued families, every one of them, with
counters at zero before their first event."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import httpx
import pytest

from posfleet.alerts.bridge.metric_specs import ALERT_OUTCOMES, TICKET_STATUSES, TICKETS_METRICS
from posfleet.alerts.bridge.model import TicketStatus
from posfleet.alerts.bridge.store import Outcome
from posfleet.exporters.catalogue import CATALOGUE, exposition_problems
from tests.alerts.bridge.conftest import BridgeFactory
from tests.alerts.bridge.support import AUTH, alert, notification
from tests.fixtures.net import LOOPBACK

README = Path(__file__).parents[3] / "alerts" / "bridge" / "README.md"
REFUSED = f"http://{LOOPBACK}:9/tickets"  # the discard port: connection refused


def test_the_catalogue_holds_the_bridge_metrics_and_the_readme_documents_them() -> None:
    assert CATALOGUE.component("tickets") == TICKETS_METRICS
    readme = README.read_text()
    assert [spec.name for spec in TICKETS_METRICS if f"`{spec.name}`" not in readme] == []
    assert tuple(TicketStatus) == TICKET_STATUSES
    assert get_args(Outcome) == ALERT_OUTCOMES


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_metrics_match_the_catalogue_after_a_ticket_and_a_failed_push(
    make_bridge: BridgeFactory,
) -> None:
    bridge = make_bridge(webhook={"url": REFUSED, "timeout_seconds": 0.5})
    await bridge.start()
    transport = httpx.ASGITransport(app=bridge.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        before = (await client.get("/metrics")).text
        await client.post("/api/v1/alertmanager", json=notification(alert()), headers=AUTH)
        await bridge.tick()  # the push fails: the change stays queued
        after = (await client.get("/metrics")).text
    await bridge.aclose()

    assert exposition_problems(after, TICKETS_METRICS, require_all=True) == []
    assert "_created" not in after
    assert 'posfleet_tickets_outbound_calls_total{result="error",system="webhook"} 1.0' in after
    assert 'posfleet_tickets_outbox_queue_depth{system="webhook"} 1.0' in after
    assert 'posfleet_tickets_alerts_applied_total{outcome="opened"} 1.0' in after
    assert 'posfleet_tickets{status="open",team="technician"} 1.0' in after
    # Before any event, closed label sets and the configured system are at zero.
    assert exposition_problems(before, TICKETS_METRICS) == []
    for series in (
        'posfleet_tickets_outbox_given_up_total{system="webhook"} 0.0',
        'posfleet_tickets_outbox_queue_depth{system="webhook"} 0.0',
        'posfleet_tickets_store_errors_total{operation="outbox"} 0.0',
        'posfleet_tickets_closed_total{reason="resolved"} 0.0',
        "posfleet_tickets_opened_total 0.0",
    ):
        assert series in before
