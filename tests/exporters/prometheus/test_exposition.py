"""The terminal exposition: exactly the catalogue, no fake zeros, valid text, fast path = slow."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from posfleet.collector.state import FleetState, Health, TerminalIdentity
from posfleet.exporters.catalogue import TERMINAL_METRICS, exposition_problems
from posfleet.exporters.prometheus.collector import TerminalCollector
from posfleet.exporters.prometheus.docs import FULL_STATUS, example_view
from posfleet.exporters.prometheus.render import TerminalExposition
from posfleet.telemetry.docs import EXAMPLE_STATUS
from tests.exporters.prometheus.fleet import SEEN_AT, fleet, reading

TESTDATA = Path(__file__).resolve().parents[3] / "exporters" / "prometheus" / "testdata"
Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def samples_of(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def health_of(found: Samples) -> dict[str, float]:
    return {
        dict(labels)["state"]: value for labels, value in found["posfleet_terminal_health"].items()
    }


def render(state: FleetState) -> str:
    return TerminalExposition(state.terminals).render_current().decode()


def test_a_full_snapshot_exposes_every_catalogue_metric_and_nothing_else() -> None:
    text = render(fleet(3))
    assert exposition_problems(text, TERMINAL_METRICS, require_all=True) == []


def key(**labels: str) -> tuple[tuple[str, str], ...]:
    """Sorted labels of T-00000 (the first terminal of ``fleet``) plus ``labels``."""
    mine = {"merchant": "acme", "region": "north", "store": "S-0000", "terminal": "T-00000"}
    return tuple(sorted((mine | labels).items()))


def test_values_are_converted_to_base_units() -> None:
    found = samples_of(render(fleet(1)))
    assert found["posfleet_network_acquirer_latency_seconds"][key()] == pytest.approx(0.42)
    assert found["posfleet_battery_charge_ratio"][key()] == pytest.approx(0.64)
    assert found["posfleet_printer_paper_state"][key(state="near_end")] == 1
    assert found["posfleet_printer_paper_state"][key(state="ok")] == 0
    assert found["posfleet_certificate_expiry_timestamp_seconds"][key()] == 1803859200  # 2027-03
    assert found["posfleet_terminal_last_seen_timestamp_seconds"][key()] == SEEN_AT.timestamp()
    reads = found["posfleet_card_reads_total"]
    assert reads[key(interface="contactless", result="failed")] == 94
    (info,) = found["posfleet_terminal_info"]
    assert dict(info)["payment_app_version"] == "3.4.2"
    assert dict(info)["serial"] == "SN0"


def test_values_a_terminal_did_not_report_have_no_series() -> None:
    status = {key: EXAMPLE_STATUS[key] for key in ("terminal_id", "merchant_id", "store_id")}
    status |= {"observed_at": EXAMPLE_STATUS["observed_at"], "printer": {"paper": "out"}}
    found = samples_of(render(fleet(1, status)))
    assert set(found) == {
        "posfleet_terminal_info",
        "posfleet_terminal_up",
        "posfleet_terminal_health",
        "posfleet_terminal_last_seen_timestamp_seconds",
        "posfleet_printer_paper_state",
    }
    (info,) = found["posfleet_terminal_info"]
    assert dict(info)["os_version"] == "", "an unreported version is an empty label"


def test_an_offline_terminal_is_down_and_keeps_no_stale_values() -> None:
    state = FleetState("edge-test", offline_after_failures=2)
    state.add_terminal(TerminalIdentity("T-1", "acme", "S-1", "north"), [("http", "http")])
    state.record_success("T-1", 0, reading(FULL_STATUS), SEEN_AT)
    for _ in range(2):
        state.record_failure("T-1", 0, "timeout", "no answer", SEEN_AT + timedelta(minutes=1))
    found = samples_of(render(state))
    assert set(found) == {
        "posfleet_terminal_info",
        "posfleet_terminal_up",
        "posfleet_terminal_health",
        "posfleet_terminal_last_seen_timestamp_seconds",
    }
    assert list(found["posfleet_terminal_up"].values()) == [0.0]
    assert health_of(found) == {"online": 0, "degraded": 0, "offline": 1, "unknown": 0}


def test_a_terminal_not_read_yet_has_health_unknown_and_no_up() -> None:
    state = FleetState("edge-test", offline_after_failures=2)
    state.add_terminal(TerminalIdentity("T-1", "acme", "S-1", "north"), [("http", "http")])
    found = samples_of(render(state))
    assert "posfleet_terminal_up" not in found
    assert "posfleet_terminal_last_seen_timestamp_seconds" not in found
    assert health_of(found)["unknown"] == 1


def test_the_fast_path_equals_prometheus_client_rendering_the_collector() -> None:
    state = fleet(5)
    sparse = dict(EXAMPLE_STATUS, terminal_id="T-odd", firmware={"os_version": 'a "b" \\c\nd'})
    state.add_terminal(TerminalIdentity("T-odd", "acme", "S-9", "south"), [("mqtt", "mqtt")])
    state.record_success("T-odd", 0, reading(sparse), SEEN_AT)
    state.add_terminal(TerminalIdentity("T-new", "acme", "S-9", "south"), [("mqtt", "mqtt")])
    registry = CollectorRegistry()
    registry.register(TerminalCollector(state.terminals))
    assert render(state) == generate_latest(registry).decode()


def test_a_changed_snapshot_shows_on_the_next_scrape_and_only_it_is_rendered_again() -> None:
    state = fleet(4)
    exposition = TerminalExposition(state.terminals)
    first = samples_of(exposition.render_current().decode())
    assert exposition.last.rendered == 4
    exposition.render_current()
    assert exposition.last.rendered == 0, "nothing changed: everything comes from the cache"

    changed = dict(FULL_STATUS, printer=dict(FULL_STATUS["printer"], paper="out", faults_total=8))
    state.record_success("T-00002", 0, reading(changed), SEEN_AT + timedelta(seconds=15))
    second = samples_of(exposition.render_current().decode())
    assert exposition.last.rendered == 1
    faults = {dict(k)["terminal"]: v for k, v in second["posfleet_printer_faults_total"].items()}
    assert faults == {"T-00000": 7, "T-00001": 7, "T-00002": 8, "T-00003": 7}
    before = {dict(k)["terminal"]: v for k, v in first["posfleet_printer_faults_total"].items()}
    assert before["T-00002"] == 7


def test_a_health_change_alone_invalidates_the_cache() -> None:
    state = FleetState("edge-test", offline_after_failures=5)
    state.add_terminal(TerminalIdentity("T-1", "acme", "S-1", "north"), [("http", "http")])
    state.record_success("T-1", 0, reading(FULL_STATUS), SEEN_AT)
    exposition = TerminalExposition(state.terminals)
    exposition.render_current()
    state.record_failure("T-1", 0, "timeout", "no answer", SEEN_AT)
    found = samples_of(exposition.render_current().decode())
    degraded = [dict(k) for k, v in found["posfleet_terminal_health"].items() if v == 1]
    assert [labels["state"] for labels in degraded] == [Health.DEGRADED]


def test_the_example_snapshot_renders_as_the_golden_file() -> None:
    view = example_view(EXAMPLE_STATUS)
    text = TerminalExposition(lambda: [view]).render_current().decode()
    assert text == (TESTDATA / "example_status.prom").read_text(encoding="utf-8")


def test_promtool_finds_nothing_to_complain_about() -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is part of the test machine (Debian prometheus)"
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=render(fleet(3)).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, b"")
