"""Fleet state: merging sources into one snapshot, freshness, online/degraded/offline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from posfleet.collector.driver import Reading
from posfleet.collector.state import FleetState, Health, TerminalIdentity
from posfleet.telemetry import NetworkStatus, PrinterStatus, SystemStatus
from tests.collector.fakes import EPOCH

IDENTITY = TerminalIdentity("T-1", "acme", "S-1", "north", serial=None, model="A920", vendor=None)
HTTP, PRINTER = 0, 1


@pytest.fixture
def state() -> FleetState:
    fleet = FleetState("edge-1", offline_after_failures=3)
    fleet.add_terminal(IDENTITY, [("http", "http"), ("escpos", "escpos")])
    return fleet


def http_reading(minute: int) -> Reading:
    return Reading(
        observed_at=EPOCH + timedelta(minutes=minute),
        parts={"network": NetworkStatus(link_up=True), "system": SystemStatus(charging=True)},
        device={"serial": "1850000001", "model": "A920Pro", "vendor": "PAX"},
    )


def printer_reading(minute: int) -> Reading:
    return Reading(
        observed_at=EPOCH + timedelta(minutes=minute),
        parts={"printer": PrinterStatus.model_validate({"online": True, "paper": "near_end"})},
        device={"model": "TM-T88VI"},
    )


def test_unread_terminal_is_unknown(state: FleetState) -> None:
    view = state.terminal("T-1")
    assert view.health is Health.UNKNOWN
    assert view.snapshot is None


def test_two_sources_merge_into_one_snapshot(state: FleetState) -> None:
    state.record_success("T-1", HTTP, http_reading(0), EPOCH)
    snapshot = state.record_success("T-1", PRINTER, printer_reading(1), EPOCH)
    assert snapshot is not None
    assert snapshot.network == NetworkStatus(link_up=True)
    assert snapshot.printer is not None
    assert snapshot.printer.paper == "near_end"
    assert snapshot.screen is None  # nobody reported it: stays unknown
    assert (snapshot.terminal_id, snapshot.merchant_id, snapshot.store_id) == ("T-1", "acme", "S-1")
    assert snapshot.region == "north"
    assert snapshot.collector_id == "edge-1"
    assert snapshot.observed_at == EPOCH + timedelta(minutes=1)  # the newest observation
    # Identity: the inventory wins, the device fills what the inventory leaves out.
    assert (snapshot.model, snapshot.serial, snapshot.vendor) == ("A920", "1850000001", "PAX")
    assert state.terminal("T-1").health is Health.ONLINE


def test_each_source_keeps_its_own_freshness(state: FleetState) -> None:
    state.record_success("T-1", HTTP, http_reading(0), EPOCH)
    state.record_success("T-1", PRINTER, printer_reading(0), EPOCH + timedelta(seconds=5))
    state.record_success("T-1", HTTP, http_reading(1), EPOCH + timedelta(seconds=60))
    http, printer = state.terminal("T-1").sources
    assert http.last_good_at == EPOCH + timedelta(seconds=60)
    assert printer.last_good_at == EPOCH + timedelta(seconds=5)
    assert state.terminal("T-1").last_seen == EPOCH + timedelta(seconds=60)


def test_failing_printer_makes_the_terminal_degraded_with_the_reason(state: FleetState) -> None:
    state.record_success("T-1", HTTP, http_reading(0), EPOCH)
    state.record_success("T-1", PRINTER, printer_reading(0), EPOCH)
    state.record_failure("T-1", PRINTER, "no_answer", "no status byte", EPOCH)
    view = state.terminal("T-1")
    assert view.health is Health.DEGRADED
    assert view.reason == "escpos: no_answer"
    problem = view.sources[PRINTER].problem
    assert problem is not None
    assert problem.message == "no status byte"
    # One missed poll does not blank the printer in the snapshot ...
    assert view.snapshot is not None
    assert view.snapshot.printer is not None
    # ... but a printer gone for offline_after_failures polls is no longer reported.
    state.record_failure("T-1", PRINTER, "no_answer", "no status byte", EPOCH)
    state.record_failure("T-1", PRINTER, "no_answer", "no status byte", EPOCH)
    view = state.terminal("T-1")
    assert view.snapshot is not None
    assert view.snapshot.printer is None
    assert view.snapshot.network is not None
    assert view.health is Health.DEGRADED  # the terminal itself still answers


def test_offline_after_n_failures_keeps_last_seen_and_recovers(state: FleetState) -> None:
    state.record_success("T-1", HTTP, http_reading(0), EPOCH)
    state.record_success("T-1", PRINTER, printer_reading(0), EPOCH)
    for minute in (1, 2):
        state.record_failure("T-1", HTTP, "unreachable", "refused", EPOCH)
        state.record_failure("T-1", PRINTER, "no_answer", "silent", EPOCH)
        assert state.terminal("T-1").health is Health.DEGRADED, minute
    state.record_failure("T-1", HTTP, "unreachable", "refused", EPOCH)
    state.record_failure("T-1", PRINTER, "no_answer", "silent", EPOCH)
    view = state.terminal("T-1")
    assert view.health is Health.OFFLINE
    assert view.last_seen == EPOCH
    assert view.snapshot is None
    state.record_success("T-1", HTTP, http_reading(5), EPOCH + timedelta(minutes=5))
    assert state.terminal("T-1").health is Health.DEGRADED  # printer still down
    state.record_success("T-1", PRINTER, printer_reading(5), EPOCH + timedelta(minutes=5))
    assert state.terminal("T-1").health is Health.ONLINE


def test_bad_input_is_degraded_never_offline(state: FleetState) -> None:
    for _ in range(5):
        state.record_failure("T-1", HTTP, "malformed", "printer.paper: ...", EPOCH, bad_input=True)
        state.record_failure("T-1", PRINTER, "no_answer", "silent", EPOCH)
    view = state.terminal("T-1")
    assert view.health is Health.DEGRADED
    assert view.reason is not None
    assert "http: malformed" in view.reason


def test_health_counts_cover_every_state(state: FleetState) -> None:
    state.add_terminal(TerminalIdentity("T-2", "acme", "S-1"), [("mqtt", "mqtt")])
    state.record_success("T-2", 0, http_reading(0), EPOCH)
    assert state.health_counts() == {
        Health.UNKNOWN: 1,
        Health.ONLINE: 1,
        Health.DEGRADED: 0,
        Health.OFFLINE: 0,
    }


def test_device_identity_the_contract_refuses_is_left_out(state: FleetState) -> None:
    reading = Reading(observed_at=EPOCH, parts={}, device={"serial": "x" * 200, "vendor": "PAX"})
    snapshot = state.record_success("T-1", HTTP, reading, EPOCH)
    assert snapshot is not None
    assert snapshot.serial is None
    assert snapshot.vendor == "PAX"
