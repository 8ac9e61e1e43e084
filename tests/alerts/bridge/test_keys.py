"""The ticket key: stable labels only, the most precise place, never the group key."""

from __future__ import annotations

from posfleet.alerts.bridge.keys import ticket_key

LABELS = {
    "alertname": "PrinterPaperOut",
    "component": "printer",
    "terminal": "T-0001",
    "store": "S-001",
    "severity": "warning",
    "team": "technician",
}


def test_the_key_depends_on_fault_component_and_terminal_only() -> None:
    key = ticket_key(LABELS)

    assert key.identity == "alertname=PrinterPaperOut\ncomponent=printer\nterminal=T-0001"
    assert key.key.startswith("pf-")
    assert len(key.key) == 19
    # Severity escalating, another team or extra labels do not make another ticket.
    assert ticket_key({**LABELS, "severity": "critical", "team": "it", "pod": "x"}) == key
    assert ticket_key({**LABELS, "terminal": "T-0002"}) != key
    assert ticket_key({**LABELS, "alertname": "PrinterPaperNearEnd"}) != key


def test_the_place_falls_back_from_terminal_to_store_region_and_fleet() -> None:
    store = {k: v for k, v in LABELS.items() if k != "terminal"}
    region = {"alertname": "CollectorDown", "component": "collector", "region": "eu-central"}

    assert ticket_key(store).identity.endswith("\nstore=S-001")
    assert ticket_key(region).identity.endswith("\nregion=eu-central")
    assert ticket_key({"alertname": "Watchdog"}).identity == (
        "alertname=Watchdog\ncomponent=\nfleet=all"
    )


def test_extra_key_labels_separate_fleets_that_share_a_bridge() -> None:
    test_env = ticket_key({**LABELS, "env": "test"}, ["env"])
    prod_env = ticket_key({**LABELS, "env": "prod"}, ["env"])

    assert test_env != prod_env
    assert test_env.identity.endswith("\nenv=test")
