"""The alert rules: promtool accepts them and their unit tests pass, every alert carries
what the ticket bridge and the people reading it need, and every metric a rule reads exists.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from posfleet.exporters.catalogue import CATALOGUE
from posfleet.exporters.derived.policy import POLICY_THRESHOLDS

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "alerts"
RULE_FILES = sorted(ALERTS.glob("*.yml"))
TEST_FILES = sorted((ALERTS / "tests").glob("*.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"

REQUIRED_LABELS = ("severity", "team", "component")
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url", "action")
SEVERITIES = {"critical", "warning", "info"}
TEAMS = {"merchant", "technician", "it"}
PLACE_LABELS = ("terminal", "store", "region", "instance", "name")
"""An alert's expression must keep one of these, so tickets and messages say where."""

IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
POLICY_NAME = re.compile(r'policy:posfleet_threshold:max\{name="([a-z0-9_]+)"\}')
PROMQL_WORDS = frozenset(
    {"and", "or", "unless", "on", "ignoring", "group_left", "group_right", "by", "without"}
)
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def _rules() -> list[dict[str, Any]]:
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += group["rules"]
    return rules


RULES = _rules()
ALERT_RULES = [rule for rule in RULES if "alert" in rule]
RECORDED = {rule["record"] for rule in RULES if "record" in rule}
ALERT_NAMES = sorted({rule["alert"] for rule in ALERT_RULES})


def _promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def _metric_names(expr: str) -> set[str]:
    """Identifiers in an expression that name series: ours (posfleet_*) and recorded ones."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    names = set()
    for token in IDENTIFIER.findall(without_strings):
        if token.startswith("posfleet_") or ":" in token:
            names.add(token)
    return names - PROMQL_WORDS


def _in_catalogue(name: str) -> bool:
    candidates = [name] + [name.removesuffix(s) for s in HISTOGRAM_SUFFIXES if name.endswith(s)]
    for candidate in candidates:
        try:
            CATALOGUE.metric(candidate)
        except KeyError:
            continue
        return True
    return False


def test_promtool_accepts_every_rule_file() -> None:
    result = _promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_unit_test_passes() -> None:
    result = _promtool("test", "rules", *TEST_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_prometheus_config_loads_the_rules() -> None:
    result = _promtool("check", "config", PROMETHEUS_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in RULE_FILES:
        assert f"alerts/{path.name}" in result.stdout


@pytest.mark.parametrize("rule", ALERT_RULES, ids=lambda rule: rule["alert"])
def test_every_alert_carries_what_tickets_and_people_need(rule: dict[str, Any]) -> None:
    labels = rule.get("labels", {})
    annotations = rule.get("annotations", {})
    assert [label for label in REQUIRED_LABELS if not labels.get(label)] == []
    assert labels["severity"] in SEVERITIES
    assert labels["team"] in TEAMS
    assert [name for name in REQUIRED_ANNOTATIONS if not annotations.get(name)] == []
    assert annotations["runbook_url"] == f"docs/runbooks/{rule['alert']}.md"
    assert any(f"$labels.{place}" in annotations["summary"] for place in PLACE_LABELS), (
        "the summary names no place"
    )


@pytest.mark.parametrize("name", ALERT_NAMES)
def test_every_alert_has_a_runbook_and_a_unit_test(name: str) -> None:
    runbook = RUNBOOKS / f"{name}.md"
    assert runbook.is_file(), f"{runbook} is missing"
    text = runbook.read_text()
    for section in ("## What it means", "## What to do", "## How to verify it cleared"):
        assert section in text, f"{runbook.name}: no '{section}'"
    tested = [
        case["alertname"]
        for path in TEST_FILES
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    ]
    assert name in tested, f"no unit test sees {name} fire"


def test_every_runbook_belongs_to_an_alert() -> None:
    assert sorted(path.stem for path in RUNBOOKS.glob("*.md") if path.stem != "README") == (
        ALERT_NAMES
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.get("alert") or rule["record"])
def test_every_metric_a_rule_reads_exists(rule: dict[str, Any]) -> None:
    names = _metric_names(rule["expr"])
    unknown = sorted(
        name for name in names if not (name in RECORDED if ":" in name else _in_catalogue(name))
    )
    assert unknown == []


def test_every_threshold_a_rule_reads_is_exported() -> None:
    used = {name for rule in RULES for name in POLICY_NAME.findall(rule["expr"])}
    assert used
    assert sorted(used - set(POLICY_THRESHOLDS)) == []


def test_the_metric_name_parser_sees_recorded_and_raw_names() -> None:
    expr = (
        "posfleet_terminal_up == 0 and on (store) (store:posfleet_store_open:max == 1)"
        ' unless posfleet_x{name="posfleet_not_a_metric"}'
    )
    assert _metric_names(expr) == {
        "posfleet_terminal_up",
        "store:posfleet_store_open:max",
        "posfleet_x",
    }
    assert not _in_catalogue("posfleet_x")
