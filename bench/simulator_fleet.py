"""How fast the simulator's model steps a large fleet (prints its figures).

Run: python bench/simulator_fleet.py [terminals] [simulated-hours]

A terminal-step is one terminal advanced by one model step (``tick_seconds``, 60 s of
simulated time); sales, faults and status reports in between are included in the time.
"""

from __future__ import annotations

import sys
import time

from posfleet.simulator.engine import Fleet, mqtt_only
from posfleet.simulator.fleet import FleetParameters, generate_fleet

START = 1_795_593_600.0 + 3 * 3600  # 2026-11-25 11:00 UTC: lunch time in Europe


def main() -> None:
    terminals = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    hours = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
    began = time.perf_counter()
    spec = generate_fleet(FleetParameters(terminals=terminals, stores=terminals // 10,
                                          merchants=20, seed=1))
    fleet = Fleet(spec, START, reports_status=mqtt_only)
    built = time.perf_counter() - began
    began = time.perf_counter()
    transactions = statuses = 0
    until = START + hours * 3600
    while fleet.now < until:
        fleet.advance_to(min(until, fleet.now + 30.0))
        out = fleet.drain()
        transactions += len(out.transactions)
        statuses += len(out.statuses)
    elapsed = time.perf_counter() - began
    steps = terminals * hours * 3600 / fleet.tick_seconds
    simulated = hours * 3600
    print(f"fleet of {terminals} built in {built:.1f} s")
    print(f"{simulated:.0f} simulated s in {elapsed:.1f} s: "
          f"{steps / elapsed:,.0f} terminal-steps/s, top speed x{simulated / elapsed:.0f}")
    print(f"{transactions / elapsed:,.0f} transactions/s, {statuses / elapsed:,.0f} snapshots/s "
          f"({transactions} transactions, {statuses} mqtt snapshots)")


if __name__ == "__main__":
    main()
