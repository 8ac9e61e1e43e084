"""The README's first command: ``posfleet demo`` runs a simulated fleet live and stops cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.server


def processes_using(directory: Path) -> list[str]:
    listing = subprocess.run(
        ["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in listing.splitlines() if str(directory) in line]


def test_demo_polls_the_simulated_fleet_and_leaves_nothing_running(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "posfleet",
            "demo",
            "--terminals",
            "30",
            "--stores",
            "4",
            "--duration",
            "11",
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    output = result.stdout
    assert "MQTT broker" in output
    assert "terminals: 30 online" in output, output
    assert "demo stopped" in output
    assert (data / "fleet.yml").is_file()
    assert (data / "ground-truth.jsonl").exists()
    assert processes_using(data) == [], "the demo's broker must be stopped"


def test_demo_with_a_broken_scenario_file_says_why(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yml"
    scenario.write_text("fleet: {terminals: -1}\n")
    result = subprocess.run(
        [sys.executable, "-m", "posfleet", "demo", "--scenario", str(scenario)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "fleet.terminals" in result.stderr
