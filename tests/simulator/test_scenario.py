"""Scenario files: the examples stay valid, errors name their field, faults run on time."""

from __future__ import annotations

from pathlib import Path

import pytest

from posfleet.simulator.engine import Fleet
from posfleet.simulator.fleet import generate_fleet
from posfleet.simulator.scenario import ScenarioError, load_scenario, parse_scenario
from tests.simulator.helpers import run

SCENARIOS = sorted((Path(__file__).parents[2] / "deploy" / "scenarios").glob("*.yml"))


def test_there_are_example_scenarios() -> None:
    assert len(SCENARIOS) >= 2


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_example_scenarios_are_valid_and_their_targets_exist(path: Path) -> None:
    scenario = load_scenario(path)
    Fleet(generate_fleet(scenario.parameters()), scenario.start.timestamp(),
          scripted=scenario.scripted_faults())


def test_errors_name_the_field() -> None:
    text = "fleet: {terminals: zero}\nfaults:\n  - {at: '10:05', kind: uplink_down}\n"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "s.yml")
    messages = "\n".join(caught.value.messages())
    assert "s.yml: fleet.terminals:" in messages
    assert "faults[0]: " in messages
    assert "needs exactly 'store'" in messages


def test_unknown_target_is_reported_with_its_path() -> None:
    scenario = parse_scenario(
        "fleet: {terminals: 5}\nfaults:\n  - {at: '10:05', kind: paper_out, terminal: T-9999}\n"
    )
    with pytest.raises(ScenarioError, match=r"faults\[0\].terminal: terminal 'T-9999'"):
        Fleet(generate_fleet(scenario.parameters()), scenario.start.timestamp(),
              scripted=scenario.scripted_faults())


def test_scripted_faults_start_and_end_at_the_scripted_times() -> None:
    scenario = parse_scenario(
        """
        start: "2026-11-25T10:00:00+01:00"
        fleet: {terminals: 30, stores: 5}
        faults:
          - {at: 10:05, kind: uplink_down, store: S-003, for_minutes: 4}
          - {at: "10:20", kind: paper_jam, terminal: T-0002, for_minutes: 10}
          - {at: "10:10", kind: card_reader_degrading, terminal: T-0004, for_minutes: 30}
        """.replace("\n        ", "\n")
    )
    fleet = Fleet(generate_fleet(scenario.parameters()), scenario.start.timestamp(),
                  scripted=scenario.scripted_faults())
    batches = run(fleet, 3600.0)
    scripted = {
        line["kind"]: line
        for batch in batches
        for line in batch.ground_truth
        if line["type"] == "fault" and line["scripted"]
    }
    assert scripted["uplink_down"]["store_id"] == "S-003"
    assert scripted["uplink_down"]["start"] == "2026-11-25T09:05:00Z"
    assert scripted["uplink_down"]["end"] == "2026-11-25T09:09:00Z"
    assert scripted["paper_jam"]["terminal_id"] == "T-0002"
    assert scripted["paper_jam"]["start"] == "2026-11-25T09:20:00Z"
    reader = fleet.by_id["T-0004"]
    assert reader.severity("card_reader_degraded", fleet.now) == 1.0
    assert "card_reader_degraded" in reader.faults
