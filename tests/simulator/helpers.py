"""Small fleets and a synchronous driver for simulator tests."""

from __future__ import annotations

import json
from collections.abc import Iterable

from posfleet.simulator.engine import Emitted, Fleet
from posfleet.simulator.fleet import FleetParameters, FleetSpec, generate_fleet
from posfleet.simulator.record import trace_lines
from posfleet.simulator.scenario import ScriptedFault

START = 1_795_593_600.0  # 2026-11-25 08:00 UTC, a Wednesday morning
HOUR = 3600.0


def make_fleet(
    terminals: int = 50,
    seed: int = 1,
    *,
    scripted: Iterable[ScriptedFault] = (),
    record_all: bool = True,
    stores: int = 10,
) -> Fleet:
    spec: FleetSpec = generate_fleet(
        FleetParameters(terminals=terminals, stores=stores, merchants=3, seed=seed)
    )
    return Fleet(spec, START, scripted=scripted,
                 reports_status=(lambda _spec: True) if record_all else (lambda _spec: False))


def run(fleet: Fleet, seconds: float, step: float = 60.0) -> list[Emitted]:
    """Advance ``fleet`` by ``seconds`` of simulated time in ``step`` slices."""
    batches = []
    target = fleet.now + seconds
    while fleet.now < target:
        fleet.advance_to(min(target, fleet.now + step))
        batches.append(fleet.drain())
    return batches


def trace(batches: list[Emitted]) -> list[str]:
    return [line for batch in batches for line in trace_lines(batch)]


def ground_truth(batches: list[Emitted], fleet: Fleet) -> list[dict[str, object]]:
    lines = [line for batch in batches for line in batch.ground_truth]
    return lines + fleet.faults.still_open()


def parse(lines: list[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines]
