"""Clocks of the demo: the collector and ingest read wall time from the simulation."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from posfleet.simulator.clock import Clock as SimulatedClock


class SimulatedWallClock:
    """Implements the collector's ``Clock``: real monotonic time and sleeps (polls keep their
    real pace) but wall time from the simulation, so that store hours and the paper
    forecast see the simulated day the terminals report from."""

    def __init__(self, simulated: SimulatedClock) -> None:
        self._simulated = simulated

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._simulated.now(), UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class TimeMap:
    """Converts real (wall-clock) instants to simulated ones for a clock at ``speed``."""

    def __init__(self, simulated: SimulatedClock, speed: float) -> None:
        self._wall = time.time()
        self._simulated = simulated.now()
        self.speed = speed

    def simulated(self, wall: datetime | float) -> float:
        at = wall.timestamp() if isinstance(wall, datetime) else wall
        return self._simulated + (at - self._wall) * self.speed

    def as_dict(self) -> dict[str, float]:
        """The mapping as data: simulated = simulated0 + (wall - wall0) * speed."""
        return {"wall": self._wall, "simulated": self._simulated, "speed": self.speed}
