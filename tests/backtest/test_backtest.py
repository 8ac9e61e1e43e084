"""The backtest end to end on a small simulated history, with real promtool and a real
Prometheus (started by the backtest itself on a free port, in a temporary folder)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from posfleet.backtest.run import BacktestOptions, run_backtest
from posfleet.cli import cli
from posfleet.config.loader import load_config
from tests.backtest.conftest import RULES, History

STEP = 60


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def report(small_history: History) -> dict[str, Any]:
    result = run_backtest(
        small_history.trace,
        load_config(small_history.config),
        small_history.ground_truth,
        BacktestOptions(rules=[RULES]),
    )
    loaded: dict[str, Any] = json.loads(json.dumps(result.report))
    return loaded


def _truth_episodes(history: History, start: float, end: float) -> set[tuple[Any, ...]]:
    """Episodes straight from the ground truth: failed transactions grouped by fault."""
    faults: dict[str, dict[str, Any]] = {}
    first: dict[tuple[str, str], float] = {}
    for line in history.ground_truth.read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "fault":
            faults[record["id"]] = record
        elif record["type"] == "failed_transaction" and record["fault_id"]:
            key = (record["fault_id"], record["store_id"])
            first[key] = min(first.get(key, math.inf), _ts(record["occurred_at"]))
    out = set()
    for (fault_id, store), at in first.items():
        fault = faults[fault_id]
        if start <= at <= end:
            out.add((fault["component"], fault["terminal_id"], store, _iso(at)))
    return out


def test_episodes_equal_the_ground_truth(report: dict[str, Any], small_history: History) -> None:
    start, end = _ts(report["history"]["from"]), _ts(report["history"]["to"])
    expected = _truth_episodes(small_history, start, end)
    got = {
        (e["component"], e["terminal"], e["store"], e["first_failure"])
        for e in report["episodes"]
    }
    assert got == expected
    # The scripted paper run-out on T-0002 is among them.
    assert any(e[0] == "printer" and e[1] == "T-0002" for e in expected)


def _not_ok_since(history: History, terminal: str, before: float) -> float:
    """When the terminal's paper last turned from ok to not ok before ``before``, from the
    recorded snapshots (and it must have stayed not ok until then)."""
    since: float | None = None
    for line in history.trace.read_text().splitlines():
        record = json.loads(line)
        if record["type"] != "status" or record["terminal_id"] != terminal:
            continue
        at = _ts(record["observed_at"])
        if at > before:
            break
        ok = record.get("printer", {}).get("paper") == "ok"
        if ok:
            since = None
        elif since is None:
            since = at
    assert since is not None, f"{terminal}: paper was ok right before the failure"
    return since


def test_precursor_rule_scores_its_lead(report: dict[str, Any], small_history: History) -> None:
    printer = [e for e in report["episodes"] if e["component"] == "printer"]
    assert len(printer) >= 2
    precise: dict[str, float] = {}
    for line in small_history.ground_truth.read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "failed_transaction" and record["fault_id"]:
            at = _ts(record["occurred_at"])
            precise[record["fault_id"]] = min(precise.get(record["fault_id"], math.inf), at)
    for episode in printer:
        first_failure = precise[episode["fault_id"]]
        since = _not_ok_since(small_history, episode["terminal"], first_failure)
        # The rule has no `for`: it fires at the first evaluation that sees the snapshot.
        opened = math.ceil(since / STEP) * STEP
        assert episode["warned_in_time"] is True
        assert episode["ticket_alert"] == "PaperNotOk"
        assert episode["lead_seconds"] == pytest.approx(first_failure - opened, abs=1e-3)
    rule = report["figures"]["rules"]["PaperNotOk"]
    assert rule["warned_in_time"] == rule["episodes"] == len(printer)


def test_rule_firing_on_failures_scores_nothing(report: dict[str, Any]) -> None:
    rule = report["figures"]["rules"]["DeviceFailuresSeen"]
    assert rule["tickets"] >= 2  # it does fire ...
    assert rule["warned_in_time"] == 0  # ... but only once customers were already failing
    assert rule["median_lead_seconds"] is None
    assert rule["late"] >= 1


def test_tickets_list_every_opening(report: dict[str, Any]) -> None:
    tickets = report["tickets"]
    assert {t["alertname"] for t in tickets} == {"PaperNotOk", "DeviceFailuresSeen"}
    for ticket in tickets:
        assert ticket["opened"] == ticket["spans"][0]["opened"]
        assert ticket["reopened"] == len(ticket["spans"]) - 1
    # T-0002's roll ran out twice, with the paper changed in between: one ticket, reopened.
    t2 = [t for t in tickets if t["terminal"] == "T-0002" and t["alertname"] == "PaperNotOk"]
    assert len(t2) == 1
    assert t2[0]["reopened"] >= 1


def _with_bad_lines(source: Path, target: Path) -> list[tuple[int, str]]:
    """Copy ``source`` with bad lines inserted; return (line number, problem kind)."""
    lines = source.read_text().splitlines()
    status = next(line for line in lines if line.startswith('{"type":"status"'))
    bad: dict[int, tuple[str, str]] = {
        10: ('{"type":"status","terminal_id":', "corrupt"),
        20: (status.replace('"vendor":', '"vendorr":'), "unknown_field"),
        30: (status.replace('"type":"status"', '"type":"heartbeat"'), "unknown_type"),
        40: (status.replace('"observed_at":"', '"observed_at":"not a time'), "invalid"),
    }
    out: list[str] = []
    expected: list[tuple[int, str]] = []
    for line in lines:
        if len(out) + 1 in bad:
            text, kind = bad[len(out) + 1]
            out.append(text)
            expected.append((len(out), kind))
        out.append(line)
    # The first snapshot again at the end: hours older than what the replay has passed.
    out.append(status)
    expected.append((len(out), "unsorted"))
    target.write_text("\n".join(out) + "\n")
    return expected


def test_same_input_same_report_and_bad_lines_skipped(
    report: dict[str, Any], small_history: History, tmp_path: Path
) -> None:
    runner = CliRunner()
    first = tmp_path / "first.json"
    args = [
        "backtest", "run", str(small_history.trace), "-c", str(small_history.config),
        "--ground-truth", str(small_history.ground_truth), "--rules", str(RULES),
    ]  # fmt: skip
    result = runner.invoke(cli, [*args, "--json", str(first), "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert json.loads(first.read_text()) == report
    assert "PaperNotOk" in result.output
    html = (tmp_path / "r.html").read_text()
    assert html.count("<svg") == 2
    assert "<script" not in html

    dirty = tmp_path / "dirty.jsonl"
    expected = _with_bad_lines(small_history.trace, dirty)
    args[2] = str(dirty)
    second = tmp_path / "second.json"
    result = runner.invoke(cli, [*args, "--json", str(second)])
    assert result.exit_code == 0, result.output
    dirty_report = json.loads(second.read_text())
    history = dirty_report["history"]
    assert history["skipped_lines"] == len(expected)
    assert [(p["line"], p["kind"]) for p in history["problems"]] == expected
    assert f"{len(expected)} of {history['lines']} lines skipped" in result.output
    # Skipping them changes nothing else.
    assert dirty_report["figures"] == report["figures"]
    assert dirty_report["tickets"] == report["tickets"]


def test_lead_quantiles_are_nearest_rank(report: dict[str, Any]) -> None:
    leads = sorted(
        e["lead_seconds"] for e in report["episodes"] if e["lead_seconds"] is not None
    )
    figures = report["figures"]["components"]["printer"]
    assert figures["median_lead_seconds"] == leads[math.ceil(0.5 * len(leads)) - 1]
    assert figures["p10_lead_seconds"] == leads[0]


def test_per_component_counts(report: dict[str, Any]) -> None:
    counts: dict[str, int] = defaultdict(int)
    for episode in report["episodes"]:
        counts[episode["component"]] += 1
    assert {k: v["episodes"] for k, v in report["figures"]["components"].items()} == counts
