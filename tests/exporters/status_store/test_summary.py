"""A snapshot summed up: the status code people read, and whether payments can go through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from posfleet.config.models import AlertingSettings
from posfleet.exporters.status_store.summary import summarise
from tests.web.support import snapshot

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = AlertingSettings()


@pytest.mark.parametrize(
    ("changes", "status", "ready"),
    [
        ({}, "ready", True),
        ({"paper": "near_end"}, "paper_low", True),
        ({"paper": "out"}, "paper_out", False),
        ({"printer_online": False}, "printer_fault", False),
        ({"link_up": False}, "network_down", False),
        ({"packet_loss": 0.2}, "network_unstable", True),
        ({"latency_ms": 4500.0}, "network_unstable", True),
        ({"system": {"battery_percent": 9.0, "charging": False}}, "battery_low", True),
        ({"firmware": {"tamper_detected": True}}, "tampered", False),
        ({"firmware": {"certificate_expires_at": (AT + timedelta(days=3)).isoformat()}},
         "certificate_expiring", True),
        ({"screen": {"display_ok": True, "touch_responsive": False}}, "screen_fault", False),
        ({"qr_scanner": {"ok": False}}, "qr_fault", True),
        ({"paper": "near_end", "link_up": False}, "network_down", False),
        # Printers go offline while the paper is out or the cover is open: not a fault.
        ({"paper": "out", "printer_online": False}, "paper_out", False),
        ({"printer": {"online": False, "cover_open": True, "paper": "ok"}}, "cover_open", False),
        ({"printer": {"online": False, "over_temperature": True}}, "printer_fault", False),
    ],
)
def test_the_most_pressing_issue_is_the_status(changes: dict[str, Any], status: str,
                                              ready: bool) -> None:
    summary = summarise(snapshot("T-A1", AT, **changes), POLICY)

    assert summary.status == status
    assert summary.ready is ready


def test_paper_low_carries_the_minutes_left_when_the_forecast_has_them() -> None:
    summary = summarise(snapshot("T-A1", AT, paper="near_end"), POLICY, 1234.0)

    assert summary.issues[0].params == {"minutes": 21}
    assert summary.components["printer"] == "paper_low"


def test_network_unstable_says_what_is_wrong() -> None:
    summary = summarise(snapshot("T-A1", AT, packet_loss=0.12, latency_ms=3500.0), POLICY)

    assert summary.issues[0].params == {"packet_loss_percent": 12, "latency_seconds": 3.5}
    assert summary.network_quality == "unstable"
