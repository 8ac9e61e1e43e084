"""Compare vendor version strings ("5.4.10", "V2.1.3_b7", "4.0.0-rc2") without PEP 440.

A version is split into runs of digits (compared as numbers) and runs of letters (compared
case-insensitively); separators only separate. When one version is the other plus more
parts, the longer one is newer if the extra part starts with a number (5.4 < 5.4.1) and
older if it starts with letters, a pre-release (5.4-rc1 < 5.4).
"""

from __future__ import annotations

import re
from typing import Final

_PART: Final = re.compile(r"\d+|[A-Za-z]+")

VersionPart = tuple[int, int, str]
"""(kind: 1 for a number, 0 for letters, number, letters): numbers sort after letters."""


def version_parts(version: str) -> tuple[VersionPart, ...]:
    """The comparable parts of a version string (empty when it has none)."""
    parts: list[VersionPart] = []
    for token in _PART.findall(version):
        if token.isdigit():
            parts.append((1, int(token), ""))
        else:
            parts.append((0, 0, token.lower()))
    return tuple(parts)


def compare_versions(left: str, right: str) -> int:
    """-1, 0 or 1 as ``left`` is older than, the same as, or newer than ``right``."""
    a, b = version_parts(left), version_parts(right)
    for x, y in zip(a, b, strict=False):
        if x != y:
            return -1 if x < y else 1
    if len(a) == len(b):
        return 0
    longer, sign = (a, 1) if len(a) > len(b) else (b, -1)
    extra = longer[min(len(a), len(b))]
    newer = extra[0] == 1
    return sign if newer else -sign


def is_below(version: str, baseline: str) -> bool:
    """True when ``version`` is older than ``baseline``."""
    return compare_versions(version, baseline) < 0
