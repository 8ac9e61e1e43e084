"""The scenario's ``spontaneous_faults: false``: only scripted faults and the ones the
terminals' state leads to (and shows coming) happen; scripted sudden faults still do."""

from __future__ import annotations

from posfleet.simulator.engine import Fleet
from posfleet.simulator.fleet import generate_fleet
from posfleet.simulator.runner import RunOptions, Simulation
from posfleet.simulator.scenario import Scenario, parse_scenario
from tests.simulator.helpers import ground_truth, run

STATE_DRIVEN = {
    "paper_out", "paper_low", "battery_low", "battery_worn", "sim_quota_exhausted",
    "certificate_expired",
}
"""Faults the terminals' own state leads to, announced in their status beforehand."""

SCENARIO = """
seed: 4
start: "2026-11-25T09:00:00+01:00"
fleet: {terminals: 80, stores: 8}
faults:
  - {at: "10:00", kind: link_flap, terminal: T-0003, for_minutes: 2}
  - {at: "10:30", kind: paper_jam, terminal: T-0002, for_minutes: 10}
  - {at: "11:00", kind: uplink_down, store: S-005, for_minutes: 5}
  - {at: "11:30", kind: gateway_outage, merchant: M-02}
"""


def _faults(scenario: Scenario, hours: float) -> list[dict[str, object]]:
    fleet = Fleet(generate_fleet(scenario.parameters()), scenario.start.timestamp(),
                  scripted=scenario.scripted_faults(), reports_status=lambda _spec: False,
                  spontaneous_faults=scenario.spontaneous_faults)
    lines = ground_truth(run(fleet, hours * 3600.0, step=600.0), fleet)
    return [line for line in lines if line["type"] == "fault"]


def test_without_spontaneous_faults_only_scripted_and_state_driven_faults_happen() -> None:
    scenario = parse_scenario(SCENARIO + "spontaneous_faults: false\n")
    faults = _faults(scenario, 8)
    scripted = sorted(str(line["kind"]) for line in faults if line["scripted"])
    assert scripted == ["gateway_outage", "link_flap", "paper_jam", "uplink_down"]
    unscripted = {str(line["kind"]) for line in faults if not line["scripted"]}
    assert unscripted <= STATE_DRIVEN
    assert "paper_out" in unscripted, "rolls still run out"


def test_by_default_faults_also_strike_at_random() -> None:
    scenario = parse_scenario(SCENARIO)
    assert scenario.spontaneous_faults
    unscripted = {str(line["kind"]) for line in _faults(scenario, 8) if not line["scripted"]}
    assert {"link_flap", "network_degraded"} <= unscripted
    assert unscripted - STATE_DRIVEN


def test_the_live_simulation_takes_the_setting_from_the_scenario() -> None:
    scenario = parse_scenario(SCENARIO + "spontaneous_faults: false\n")
    simulation = Simulation(RunOptions(scenario=scenario))
    assert not simulation.fleet.spontaneous_faults
    assert not any(t.spontaneous_faults for t in simulation.fleet.terminals)
