"""The shipped rule files with their durations divided by a factor, for accelerated runs.

Only ``for:`` and ``keep_firing_for:`` change; expressions, labels, annotations and groups
stay exactly as shipped, so a test exercises the shipped rule logic on a faster clock. The
code is :mod:`posfleet.stack.rules` (the demo uses it too); this module keeps the tests'
import path.
"""

from __future__ import annotations

from posfleet.stack.rules import (
    SCALED_KEYS,
    parse_duration_ms,
    scale_rules,
    scaled_duration,
    write_scaled_rule_files,
)

__all__ = [
    "SCALED_KEYS",
    "parse_duration_ms",
    "scale_rules",
    "scaled_duration",
    "write_scaled_rule_files",
]
