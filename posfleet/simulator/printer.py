"""The receipt printer's mechanism: counters, head temperature, wear and the faults it
causes (jams and cutter errors grow more likely with the cuts since the last service)."""

from __future__ import annotations

import math
import random

from posfleet.simulator.paper import LINE_HEIGHT_M, PaperRoll
from posfleet.telemetry import PaperState

HEAD_COOLING_SECONDS = 60.0
HEATING_PER_METRE_C = 15.0
OVER_TEMPERATURE_C = 60.0


class PrinterMechanism:
    """Paper, counters and print-head temperature of one thermal printer."""

    __slots__ = (
        "ambient_c",
        "cuts_since_service",
        "failed_cuts_total",
        "faults_total",
        "head_at",
        "head_c",
        "lines_total",
        "paper_cuts_total",
        "roll",
    )

    def __init__(self, rng: random.Random, now: float) -> None:
        self.roll = PaperRoll.partly_used(rng)
        self.cuts_since_service = rng.randrange(0, 60_000)
        self.paper_cuts_total = self.cuts_since_service + rng.randrange(0, 200_000)
        self.lines_total = self.paper_cuts_total * rng.randrange(40, 70)
        self.failed_cuts_total = rng.randrange(0, 1 + self.paper_cuts_total // 20_000)
        self.faults_total = rng.randrange(0, 20)
        self.ambient_c = rng.uniform(25.0, 35.0)
        self.head_c = self.ambient_c
        self.head_at = now

    def head_temperature(self, now: float) -> float:
        elapsed = max(0.0, now - self.head_at)
        return self.ambient_c + (self.head_c - self.ambient_c) * math.exp(
            -elapsed / HEAD_COOLING_SECONDS
        )

    def print_receipt(self, rng: random.Random, now: float, length_m: float) -> list[str]:
        """Print and cut one receipt; return the kinds of fault it caused."""
        faults: list[str] = []
        printed = self.roll.feed(length_m)
        self.lines_total += int(printed / LINE_HEIGHT_M)
        self.head_c = self.head_temperature(now) + printed * HEATING_PER_METRE_C
        self.head_at = now
        if self.roll.state is PaperState.OUT:
            faults.append("paper_out")
            return faults  # nothing left to cut
        wear = 1.0 + self.cuts_since_service / 30_000
        if rng.random() < 2e-4 * wear * (1.0 + length_m):
            faults.append("paper_jam")
            return faults
        self.paper_cuts_total += 1
        self.cuts_since_service += 1
        if rng.random() < 6e-4 * wear:
            self.failed_cuts_total += 1
            if rng.random() < 0.3:  # most failed cuts are torn off by hand and forgotten
                faults.append("cutter_error")
        if self.head_c > OVER_TEMPERATURE_C:
            faults.append("over_temperature")
        return faults
