"""Record simulated history offline: the fleet model stepped as fast as the CPU allows.

``posfleet simulate --record`` runs against a (scaled) wall clock and serves the real
protocols; a backtest only needs the trace and the ground truth for a fixed span of
simulated time, so this drives the same model (:class:`~posfleet.simulator.engine.Fleet`)
directly and writes the same two files, byte for byte the format ``--record`` and
``--ground-truth`` write.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from posfleet.simulator.engine import Fleet
from posfleet.simulator.fleet import generate_fleet
from posfleet.simulator.record import trace_lines
from posfleet.simulator.scenario import Scenario

SLICE_SECONDS = 600.0


def record_history(
    scenario: Scenario,
    duration_seconds: float,
    trace: Path,
    ground_truth: Path,
    *,
    progress: Callable[[float], None] | None = None,
) -> None:
    """Run ``scenario`` for ``duration_seconds`` of simulated time; write (overwrite) the trace
    and the ground truth (faults still open at the end are written with ``end`` null)."""
    spec = generate_fleet(scenario.parameters())
    start = scenario.start.timestamp()
    fleet = Fleet(
        spec,
        start,
        scripted=scenario.scripted_faults(),
        status_interval=scenario.status_interval_seconds,
        reports_status=lambda _spec: True,
        spontaneous_faults=scenario.spontaneous_faults,
    )
    end = start + duration_seconds
    with trace.open("w", encoding="utf-8") as out, ground_truth.open("w", encoding="utf-8") as gt:
        while fleet.now < end:
            fleet.advance_to(min(end, fleet.now + SLICE_SECONDS))
            emitted = fleet.drain()
            lines = trace_lines(emitted)
            if lines:
                out.write("\n".join(lines) + "\n")
            for record in emitted.ground_truth:
                gt.write(json.dumps(record, separators=(",", ":")) + "\n")
            if progress is not None:
                progress((fleet.now - start) / duration_seconds)
        for record in fleet.faults.still_open():
            gt.write(json.dumps(record, separators=(",", ":")) + "\n")
