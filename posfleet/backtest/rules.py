"""The rule files a backtest evaluates: alert rules, the recording rules they need (in
dependency layers), and the metric names the history must be turned into."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS: Final = {
    "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0,
}  # fmt: skip
_TEMPLATE = re.compile(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


class RuleError(ValueError):
    """A rule file the backtest cannot use (named with the file and the problem)."""


def duration_seconds(text: str) -> float:
    """A Prometheus duration (``1h30m``, ``15s``) in seconds."""
    text = str(text).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise RuleError(f"'{text}' is not a Prometheus duration")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One alerting rule, as Prometheus would evaluate it."""

    name: str
    expr: str
    for_seconds: float
    keep_firing_for_seconds: float
    labels: tuple[tuple[str, str], ...]
    source: str
    """``file:group:index`` for messages."""

    def alert_labels(self, series: dict[str, str]) -> dict[str, str]:
        """The alert's labels: the series' labels, the rule's labels (templated), alertname."""
        labels = {k: v for k, v in series.items() if k != "__name__"}
        for key, value in self.labels:
            labels[key] = _TEMPLATE.sub(lambda m: series.get(m.group(1), ""), value)
        labels["alertname"] = self.name
        return labels


@dataclass(frozen=True, slots=True)
class RecordingRule:
    record: str
    expr: str
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    alerts: tuple[AlertRule, ...]
    recording_layers: tuple[tuple[RecordingRule, ...], ...]
    """Recording rules the alerts need; each layer depends only on earlier layers."""
    raw_metrics: frozenset[str]
    """Names of the exported series the alerts and those recording rules read."""
    range_metrics: frozenset[str]
    """Those of them read through a range selector (``rate(x[1h])``): they need every
    scrape's sample; the others are read as instant values only."""


def metric_names(expr: str) -> set[str]:
    """Series names a PromQL expression reads (a lexical scan, good for posfleet's rules):
    identifiers that are not functions, aggregations, keywords or label names."""
    cleaned = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    cleaned = re.sub(r"\{[^}]*\}", " ", cleaned)
    cleaned = re.sub(r"\[[^\]]*\]", " ", cleaned)
    cleaned = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", cleaned
    )
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", cleaned):
        word = match.group(0)
        rest = cleaned[match.end() :].lstrip()
        if word in _KEYWORDS or rest.startswith("(") or re.match(r"(?:by|without)\b", rest):
            continue
        names.add(word)
    return names


_KEYWORDS: Final = frozenset(
    (
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
        "bool", "offset", "inf", "nan",
    )
)


def _load_groups(path: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleError(f"{path}: cannot read the rule file: {exc}") from None
    groups = (data or {}).get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        raise RuleError(f"{path}: no 'groups' list")
    return groups


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """Expand directories to the ``*.yml`` files directly inside them, sorted."""
    out: list[Path] = []
    for path in paths:
        out += sorted(path.glob("*.yml")) if path.is_dir() else [path]
    return out


def load_rules(paths: Sequence[Path]) -> RuleSet:
    alerts: list[AlertRule] = []
    records: dict[str, RecordingRule] = {}
    for path in rule_files(paths):
        for group in _load_groups(path):
            for index, rule in enumerate(group.get("rules") or []):
                given = rule.get("labels") or {}
                labels = tuple(sorted((str(k), str(v)) for k, v in given.items()))
                if "record" in rule:
                    records[rule["record"]] = RecordingRule(rule["record"], rule["expr"], labels)
                    continue
                source = f"{path.name}:{group.get('name')}:{index}"
                try:
                    alerts.append(
                        AlertRule(
                            name=rule["alert"],
                            expr=rule["expr"],
                            for_seconds=duration_seconds(rule.get("for", "0s")),
                            keep_firing_for_seconds=duration_seconds(
                                rule.get("keep_firing_for", "0s")
                            ),
                            labels=labels,
                            source=source,
                        )
                    )
                except (KeyError, RuleError) as exc:
                    raise RuleError(f"{source}: {exc}") from None
    needed: set[str] = set()
    pending = [n for alert in alerts for n in metric_names(alert.expr)]
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed.add(name)
        if name in records:
            pending += metric_names(records[name].expr)
    layers: list[tuple[RecordingRule, ...]] = []
    placed: set[str] = set()
    wanted = {name: rule for name, rule in records.items() if name in needed}
    while len(placed) < len(wanted):
        layer = tuple(
            rule
            for name, rule in sorted(wanted.items())
            if name not in placed
            and all(dep in placed or dep not in wanted for dep in metric_names(rule.expr) - {name})
        )
        if not layer:
            raise RuleError("recording rules depend on each other in a cycle")
        layers.append(layer)
        placed |= {rule.record for rule in layer}
    raw = frozenset(name for name in needed if name not in records)
    exprs = [alert.expr for alert in alerts] + [rule.expr for rule in wanted.values()]
    ranged = frozenset(name for expr in exprs for name in range_selected(expr)) & raw
    return RuleSet(tuple(alerts), tuple(layers), raw, ranged)


_RANGE_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{[^}]*\})?\s*\[")


def range_selected(expr: str) -> set[str]:
    """Names read through a range selector in ``expr``."""
    return set(_RANGE_SELECTOR.findall(expr))


def recording_rules_yaml(layer: Sequence[RecordingRule], interval_seconds: float) -> str:
    rules = []
    for rule in layer:
        entry: dict[str, Any] = {"record": rule.record, "expr": rule.expr}
        if rule.labels:
            entry["labels"] = dict(rule.labels)
        rules.append(entry)
    group = {"name": "backtest", "interval": f"{int(interval_seconds)}s", "rules": rules}
    return yaml.safe_dump({"groups": [group]}, sort_keys=False)
