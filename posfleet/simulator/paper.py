"""Thermal receipt paper: how much is left on the roll and what the sensors see."""

from __future__ import annotations

import random

from posfleet.telemetry import PaperState

LINE_HEIGHT_M = 0.004
"""About 4 mm of paper per printed line (24-dot font plus line spacing)."""


class PaperRoll:
    """An 80 mm roll: 40 to 50 m usable, the near-end sensor tripping 1 to 3 m before the
    core."""

    __slots__ = ("near_end_at_m", "remaining_m")

    def __init__(self, remaining_m: float, near_end_at_m: float) -> None:
        self.remaining_m = remaining_m
        self.near_end_at_m = near_end_at_m

    @classmethod
    def fresh(cls, rng: random.Random) -> PaperRoll:
        return cls(rng.uniform(40.0, 50.0), rng.uniform(1.0, 3.0))

    @classmethod
    def partly_used(cls, rng: random.Random) -> PaperRoll:
        """A roll somewhere in its life, as found when the simulation starts."""
        roll = cls.fresh(rng)
        roll.remaining_m = rng.uniform(roll.near_end_at_m + 0.5, roll.remaining_m)
        return roll

    @property
    def state(self) -> PaperState:
        if self.remaining_m <= 0.0:
            return PaperState.OUT
        if self.remaining_m <= self.near_end_at_m:
            return PaperState.NEAR_END
        return PaperState.OK

    def feed(self, length_m: float) -> float:
        """Use up to ``length_m`` of paper; return the length actually printed."""
        used = min(length_m, max(self.remaining_m, 0.0))
        self.remaining_m -= used
        return used


def receipt_length_m(rng: random.Random) -> float:
    """A receipt is 10 to 40 cm, most of them short."""
    return min(0.40, 0.10 + rng.expovariate(1 / 0.08))
