"""Battery of a handheld terminal: drains in use, charges on its base."""

from __future__ import annotations

import random

LOW_BATTERY_PERCENT = 3.0
BACK_ON_BASE_BELOW_PERCENT = 15.0


class Battery:
    """Charge level and charging state of a handheld terminal's battery."""

    __slots__ = ("charging", "drain_per_hour", "health_ratio", "percent")

    def __init__(self, rng: random.Random) -> None:
        self.health_ratio = rng.uniform(0.55, 1.0)
        self.percent = rng.uniform(20.0, 100.0)
        self.charging = rng.random() < 0.3
        # Worn batteries hold less, so the same use drains a larger share of them.
        self.drain_per_hour = rng.uniform(5.0, 12.0) / self.health_ratio

    def step(self, rng: random.Random, dt: float, store_open: bool) -> None:
        hours = dt / 3600.0
        if self.charging:
            self.percent = min(100.0, self.percent + 35.0 * hours)
            # During opening hours staff take a charged terminal off its base.
            if store_open and self.percent > 90.0 and rng.random() < 0.2:
                self.charging = False
        else:
            self.percent = max(0.0, self.percent - self.drain_per_hour * hours)
            if not store_open:
                self.charging = rng.random() < 0.8
            elif self.percent < BACK_ON_BASE_BELOW_PERCENT and rng.random() < 0.05:
                self.charging = True

    def use(self, percent: float) -> None:
        self.percent = max(0.0, self.percent - percent)
