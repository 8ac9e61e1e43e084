"""``posfleet backtest record``: the same scenario gives the same files, in the formats of
``posfleet simulate --record`` and ``--ground-truth``, and a valid fleet configuration."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from posfleet.cli import cli
from posfleet.config.loader import load_config


def test_record_is_deterministic_and_well_formed(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yml"
    scenario.write_text(
        'seed: 5\nstart: "2026-11-25T08:00:00Z"\nfleet: {terminals: 3, stores: 1}\n'
        "faults:\n"
        '  - {at: "2026-11-25T08:10:00Z", kind: paper_out, terminal: T-0001, for_minutes: 5}\n'
    )
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        result = CliRunner().invoke(
            cli, ["backtest", "record", str(scenario), "--days", "0.05", "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        outputs.append(out)
    a, b = outputs
    for name in ("trace.jsonl", "ground-truth.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    trace = [json.loads(line) for line in (a / "trace.jsonl").read_text().splitlines()]
    assert {r["type"] for r in trace} == {"status", "transaction"}
    # One snapshot a minute per terminal: 72 minutes of 3 terminals (the end is included).
    assert 3 * 72 <= sum(r["type"] == "status" for r in trace) <= 3 * 73
    truth = [json.loads(line) for line in (a / "ground-truth.jsonl").read_text().splitlines()]
    assert any(r["type"] == "fault" and r["kind"] == "paper_out" for r in truth)
    assert len(load_config(a / "fleet.yml").stores) == 1


def test_record_reports_a_bad_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yml"
    scenario.write_text("fleet: {terminals: 0}\n")
    result = CliRunner().invoke(
        cli, ["backtest", "record", str(scenario), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "fleet.terminals" in result.output
