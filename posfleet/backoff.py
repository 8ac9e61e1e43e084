"""Exponential backoff: the one formula every retrying component shares.

Each caller adds its own jitter (how much spread suits it differs), but the doubling, its
cap, and the guard against float overflow after weeks of failures live here.
"""

from __future__ import annotations

_MAX_DOUBLINGS = 30  # 2**30 times any sensible first wait is far beyond every cap


def exponential_backoff(first_seconds: float, doublings: int, max_seconds: float) -> float:
    """``first_seconds`` doubled ``doublings`` times, never above ``max_seconds``."""
    return min(max_seconds, first_seconds * 2.0 ** min(max(doublings, 0), _MAX_DOUBLINGS))
