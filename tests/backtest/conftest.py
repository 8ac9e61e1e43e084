"""A small simulated history for the backtest tests: 4 terminals in 2 stores, 5 hours, with
a scripted paper run-out on T-0002 (alone in its store): near-end at 10:00, out at 11:00
(store time, Asia/Shanghai)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from posfleet.backtest.simulated import record_history
from posfleet.simulator.config_writer import fleet_config_yaml
from posfleet.simulator.fleet import generate_fleet
from posfleet.simulator.scenario import Scenario

SCENARIO = {
    "seed": 3,
    "start": "2026-11-25T01:00:00Z",
    "fleet": {"terminals": 4, "stores": 2, "merchants": 1},
    "faults": [
        {"at": "2026-11-25T02:00:00Z", "kind": "paper_near_end", "terminal": "T-0002"},
        {"at": "2026-11-25T03:00:00Z", "kind": "paper_out", "terminal": "T-0002",
         "for_minutes": 15},
    ],
}  # fmt: skip
HOURS = 5.0
RULES = Path(__file__).parent / "rules" / "paper.yml"


@dataclass(frozen=True)
class History:
    trace: Path
    ground_truth: Path
    config: Path


@pytest.fixture(scope="session")
def small_history(tmp_path_factory: pytest.TempPathFactory) -> History:
    folder = tmp_path_factory.mktemp("backtest-history")
    scenario = Scenario.model_validate(SCENARIO)
    history = History(
        folder / "trace.jsonl", folder / "ground-truth.jsonl", folder / "fleet.yml"
    )
    record_history(scenario, HOURS * 3600, history.trace, history.ground_truth)
    spec = generate_fleet(scenario.parameters())
    history.config.write_text(
        fleet_config_yaml(
            spec, http_base="http://127.0.0.1:9", mqtt_url="mqtt://127.0.0.1:9", escpos_ports={}
        ),
        "utf-8",
    )
    return history
