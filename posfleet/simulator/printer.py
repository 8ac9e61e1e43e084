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
JAM_CHANCE = 4e-5
"""Per receipt and metre, of a clean mechanism (doubling over 30,000 cuts): a crumpled roll
or a badly loaded one, with no sign beforehand."""
FAILED_CUT_CHANCE = 6e-4
STUCK_CUTTER_SHARE = 0.05
WORN_JAM_CHANCE = 0.02
WORN_FAILED_CUT_CHANCE = 0.5
WORN_STUCK_CUTTER_SHARE = 0.25


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

    def print_receipt(
        self, rng: random.Random, now: float, length_m: float, worn: float = 0.0
    ) -> list[str]:
        """Print and cut one receipt; return the kinds of fault it caused. ``worn`` is how far
        a ``printer_wear`` fault (paper dust and a blunting blade) has gone, 0 to 1: it makes
        cuts fail, and then jams, long before the mechanism stops."""
        faults: list[str] = []
        printed = self.roll.feed(length_m)
        self.lines_total += int(printed / LINE_HEIGHT_M)
        self.head_c = self.head_temperature(now) + printed * HEATING_PER_METRE_C
        self.head_at = now
        if self.roll.state is PaperState.OUT:
            faults.append("paper_out")
            return faults  # nothing left to cut
        wear = 1.0 + self.cuts_since_service / 30_000
        jam_chance = (JAM_CHANCE * wear + WORN_JAM_CHANCE * worn**2) * (1.0 + length_m)
        if rng.random() < jam_chance:
            faults.append("paper_jam")
            return faults
        self.paper_cuts_total += 1
        self.cuts_since_service += 1
        if rng.random() < FAILED_CUT_CHANCE * wear + WORN_FAILED_CUT_CHANCE * worn:
            self.failed_cuts_total += 1
            # Most failed cuts are torn off by hand and forgotten; a blunt blade also sticks.
            if rng.random() < STUCK_CUTTER_SHARE + WORN_STUCK_CUTTER_SHARE * worn**2:
                faults.append("cutter_error")
        if self.head_c > OVER_TEMPERATURE_C:
            faults.append("over_temperature")
        return faults

    def serviced(self) -> None:
        """A technician cleaned the paper path and replaced the blade."""
        self.cuts_since_service = 0
