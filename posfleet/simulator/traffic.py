"""When the next customer pays at a till: a Poisson process that follows the store's
opening hours and its lunch and evening peaks (sampled by thinning)."""

from __future__ import annotations

import random

from posfleet.simulator.hours import PEAK_TRAFFIC, LocalTime

CLOSED_STEP_SECONDS = 900.0
LOOKAHEAD_SECONDS = 8 * 86400.0


def next_sale_time(
    rng: random.Random, local: LocalTime, sales_per_hour: float, after: float
) -> float:
    """The time of the next sale after ``after``; ``sales_per_hour`` is the rate at an
    ordinary hour (traffic 1.0)."""
    peak_rate = sales_per_hour * PEAK_TRAFFIC / 3600.0
    at = after
    while at - after < LOOKAHEAD_SECONDS:
        at += rng.expovariate(peak_rate)
        traffic = local.traffic(at)
        if traffic == 0.0:
            # Closed: look again a quarter of an hour later instead of at every candidate.
            at = (at // CLOSED_STEP_SECONDS + 1) * CLOSED_STEP_SECONDS
            continue
        if rng.random() * PEAK_TRAFFIC < traffic:
            return at
    return at
