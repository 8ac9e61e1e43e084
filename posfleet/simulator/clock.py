"""Simulated time: seconds since the Unix epoch (UTC), as floats.

The model never reads the wall clock; the runner asks a clock where simulated time stands
and advances the fleet to it, and tests drive a :class:`ManualClock` instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """Where simulated time stands now."""

    def now(self) -> float: ...


class ScaledClock:
    """Simulated time running ``speed`` times faster than a monotonic real clock.

    ``speed=60`` makes one simulated minute pass per real second.
    """

    def __init__(
        self,
        start: float,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = start
        self._speed = speed
        self._monotonic = monotonic
        self._origin = monotonic()

    def now(self) -> float:
        return self._start + (self._monotonic() - self._origin) * self._speed


class ManualClock:
    """A clock that only moves when told to (tests, batch runs)."""

    def __init__(self, start: float) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def set(self, value: float) -> None:
        self._now = value

    def advance(self, seconds: float) -> None:
        self._now += seconds
