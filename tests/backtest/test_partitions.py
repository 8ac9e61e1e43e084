"""Partitioned replay: the shipped FirmwareBelowBaseline alert sees old payment apps in every
worker's stores, with real promtool and a real Prometheus.

The alert joins each terminal's ``payment_app_version`` to
``posfleet_version_below_baseline{version}``; a version that only terminals of partition 1
run is flagged only if partition 1 writes that series too (it once came from partition 0
alone, so such terminals were never flagged with ``--workers 2``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from posfleet.backtest.replay import partition_of
from posfleet.backtest.run import BacktestOptions, run_backtest
from posfleet.backtest.simulated import record_history
from posfleet.config.loader import load_config
from posfleet.exporters.derived.versions import is_below
from posfleet.simulator.config_writer import fleet_config_yaml
from posfleet.simulator.fleet import generate_fleet
from posfleet.simulator.scenario import Scenario
from tests.backtest.conftest import History

WORKERS = 2
BASELINE = "3.4.0"
# Seed 6 puts S-001..S-003 in partition 0 and S-004 in partition 1, with 3.1.0 run in both
# partitions and 3.2.0 only in S-004: the case the partition-0-only series missed.
SCENARIO = {
    "seed": 6,
    "start": "2026-11-25T01:00:00Z",
    "spontaneous_faults": False,
    "fleet": {
        "terminals": 6, "stores": 4, "merchants": 1,
        "firmware": [
            {"version": "3.4.2", "share": 1},
            {"version": "3.2.0", "share": 1},
            {"version": "3.1.0", "share": 1},
        ],
    },
}  # fmt: skip
HOURS = 1.5
"""Long enough for the alert's ``for: 1h``."""
ALERTS = Path(__file__).parents[2] / "alerts"
RULES = [ALERTS / "security.yml", ALERTS / "recording.yml"]


@pytest.fixture(scope="module")
def firmware_history(tmp_path_factory: pytest.TempPathFactory) -> History:
    folder = tmp_path_factory.mktemp("firmware-history")
    scenario = Scenario.model_validate(SCENARIO)
    history = History(folder / "trace.jsonl", folder / "ground-truth.jsonl", folder / "fleet.yml")
    record_history(scenario, HOURS * 3600, history.trace, history.ground_truth)
    spec = generate_fleet(scenario.parameters())
    config = yaml.safe_load(
        fleet_config_yaml(
            spec, http_base="http://127.0.0.1:9", mqtt_url="mqtt://127.0.0.1:9", escpos_ports={}
        )
    )
    config.setdefault("alerting", {})["baseline_versions"] = {"payment_app": BASELINE}
    history.config.write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    return history


def _recorded_versions(history: History) -> dict[str, tuple[str, str]]:
    """Terminal -> (store, payment app version), from the recorded snapshots."""
    out: dict[str, tuple[str, str]] = {}
    for line in history.trace.read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "status":
            version = record["firmware"]["payment_app_version"]
            out[record["terminal_id"]] = (record["store_id"], version)
    return out


def test_firmware_alert_flags_old_terminals_of_every_partition(
    firmware_history: History,
) -> None:
    recorded = _recorded_versions(firmware_history)
    old = {t: sv for t, sv in recorded.items() if is_below(sv[1], BASELINE)}
    versions_by_part: dict[int, set[str]] = {part: set() for part in range(WORKERS)}
    for store, version in old.values():
        versions_by_part[partition_of(store, WORKERS)].add(version)
    # The history must exercise what this test is about (guards against simulator changes).
    assert versions_by_part[0], "no old payment app in partition 0"
    assert versions_by_part[1] - versions_by_part[0], "no old version that only partition 1 runs"
    assert len(old) < len(recorded), "no up-to-date terminal to stay unflagged"

    result = run_backtest(
        firmware_history.trace,
        load_config(firmware_history.config),
        firmware_history.ground_truth,
        BacktestOptions(rules=RULES, workers=WORKERS),
    )
    report: dict[str, Any] = json.loads(json.dumps(result.report))
    flagged = {
        t["terminal"]: t["store"]
        for t in report["tickets"]
        if t["alertname"] == "FirmwareBelowBaseline" and t["component"] == "payment_app"
    }
    assert flagged == {terminal: store for terminal, (store, _) in old.items()}
