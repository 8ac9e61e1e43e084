"""The shipped rule files with their durations divided by a factor, for accelerated runs.

Only ``for:`` and ``keep_firing_for:`` change; expressions, labels, annotations and groups
stay exactly as shipped, so an accelerated run (``posfleet demo``, whose simulated fleet runs
faster than Prometheus's real-time clock) exercises the shipped rule logic. Range windows in
the expressions (``rate(...[15m])``) stay real time: they cover more simulated time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

SCALED_KEYS = ("for", "keep_firing_for")

_UNIT_MS = {
    "y": 365 * 86_400_000,
    "w": 7 * 86_400_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1000,
    "ms": 1,
}
_DURATION = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")


def parse_duration_ms(text: str) -> int:
    """Milliseconds of a Prometheus duration such as ``2m``, ``1h30m`` or ``500ms``."""
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(number) * _UNIT_MS[unit] for number, unit in parts)


def scaled_duration(text: str, factor: float) -> str:
    """``text`` divided by ``factor``, in milliseconds (``2m`` / 60 -> ``2000ms``)."""
    milliseconds = parse_duration_ms(text)
    if milliseconds == 0:
        return text
    return f"{max(1, round(milliseconds / factor))}ms"


def scale_rules(document: dict[str, Any], factor: float) -> dict[str, Any]:
    """A copy of a parsed rule file with every rule's durations divided by ``factor``."""
    groups = []
    for group in document.get("groups", []):
        rules = []
        for rule in group.get("rules", []):
            scaled = dict(rule)
            for key in SCALED_KEYS:
                if key in scaled:
                    scaled[key] = scaled_duration(str(scaled[key]), factor)
            rules.append(scaled)
        groups.append({**group, "rules": rules})
    return {**document, "groups": groups}


def write_scaled_rule_files(sources: Iterable[Path], target: Path, factor: float) -> list[Path]:
    """Write a scaled copy of each rule file into ``target`` (same names); return the copies."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
        copy = target / source.name
        copy.write_text(
            yaml.safe_dump(scale_rules(document, factor), sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )
        written.append(copy)
    return written


# --- accelerated rules: time windows scaled as well ------------------------------------------

_WINDOW = re.compile(r"\[((?:\d+(?:ms|[smhdwy]))+)(?::((?:\d+(?:ms|[smhdwy]))+))?\]")
_OFFSET = re.compile(r"offset\s+((?:\d+(?:ms|[smhdwy]))+)")
MIN_WINDOW_MS = 5000
"""Shortest scaled range window: a few scrapes at the demo's 1 s interval."""


def _scaled_window(text: str, factor: float) -> str:
    return f"{max(MIN_WINDOW_MS, round(parse_duration_ms(text) / factor))}ms"


def _predict_linear_horizons(expr: str) -> list[tuple[int, int]]:
    """(start, end) of the second argument of every ``predict_linear(...)`` call."""
    spans = []
    for match in re.finditer(r"predict_linear\s*\(", expr):
        depth, comma = 1, None
        index = match.end()
        while index < len(expr) and depth:
            char = expr[index]
            if char in "([{":
                depth += 1
            elif char in ")]}":
                depth -= 1
            elif char == "," and depth == 1:
                comma = index
            index += 1
        if comma is not None:
            spans.append((comma + 1, index - 1))
    return spans


def accelerate_expr(expr: str, factor: float) -> str | None:
    """``expr`` for a world running ``factor`` times faster than Prometheus's clock: range
    windows, offsets and literal ``predict_linear`` horizons divided by ``factor``. None when that
    cannot be done faithfully: the expression reads ``time()`` (real time, not the
    simulation's) or predicts over a horizon that is not a number literal."""
    if "time()" in expr:
        return None
    spans = _predict_linear_horizons(expr)
    for start, end in reversed(spans):
        horizon = expr[start:end].strip()
        try:
            seconds = float(horizon)
        except ValueError:
            return None
        expr = f"{expr[:start]} {seconds / factor:g}{expr[end:]}"

    def window(match: re.Match[str]) -> str:
        scaled = _scaled_window(match.group(1), factor)
        if match.group(2):
            return f"[{scaled}:{_scaled_window(match.group(2), factor)}]"
        return f"[{scaled}]"

    expr = _WINDOW.sub(window, expr)
    return _OFFSET.sub(lambda m: f"offset {_scaled_window(m.group(1), factor)}", expr)


def accelerate_rules(document: dict[str, Any], factor: float) -> tuple[dict[str, Any], list[str]]:
    """A copy of a parsed rule file for a world ``factor`` times faster: durations
    (:func:`scale_rules`) and windows (:func:`accelerate_expr`) scaled. Alerts that cannot be
    scaled faithfully are left out; their names are returned. Recording rules that cannot
    be scaled stay as shipped (they record what the alerts compare with)."""
    scaled_document = scale_rules(document, factor)
    dropped: list[str] = []
    groups = []
    for group in scaled_document["groups"]:
        rules = []
        for rule in group["rules"]:
            expr = accelerate_expr(str(rule["expr"]), factor)
            if expr is None:
                if "alert" in rule:
                    dropped.append(str(rule["alert"]))
                    continue
                rules.append(rule)
                continue
            rules.append({**rule, "expr": expr})
        groups.append({**group, "rules": rules})
    return {**scaled_document, "groups": groups}, dropped


def write_accelerated_rule_files(
    sources: Iterable[Path], target: Path, factor: float
) -> tuple[list[Path], list[str]]:
    """Write an accelerated copy of each rule file into ``target``; return the copies and
    the names of the alerts left out (see :func:`accelerate_rules`)."""
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    dropped: list[str] = []
    for source in sources:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
        accelerated, left_out = accelerate_rules(document, factor)
        copy = target / source.name
        copy.write_text(
            yaml.safe_dump(accelerated, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        written.append(copy)
        dropped.extend(name for name in left_out if name not in dropped)
    return written, dropped
