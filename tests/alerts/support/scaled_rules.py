"""The shipped rule files with their durations divided by a factor, for accelerated runs.

Only ``for:`` and ``keep_firing_for:`` change; expressions, labels, annotations and groups
stay exactly as shipped, so a test exercises the shipped rule logic on a faster clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

SCALED_KEYS = ("for", "keep_firing_for")

_UNIT_MS = {"y": 365 * 86_400_000, "w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000,
            "m": 60_000, "s": 1000, "ms": 1}
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
