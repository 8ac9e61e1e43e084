"""Backtest throughput: a simulated fleet history replayed through the shipped rules with
real promtool and Prometheus (target: a week of 200 terminals, one snapshot a minute, in a
few minutes). Prints each phase's time, the median of the runs, and the machine.

    .venv/bin/python bench/backtest.py [--terminals 200] [--hours 24] [--runs 1]

The standard week itself: see docs/backtest.md (``posfleet backtest record`` then ``run``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from posfleet.backtest.run import BacktestOptions, run_backtest
from posfleet.backtest.simulated import record_history
from posfleet.config.loader import parse_config
from posfleet.simulator.config_writer import fleet_config_yaml
from posfleet.simulator.fleet import generate_fleet
from posfleet.simulator.scenario import Scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--terminals", type=int, default=200)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    scenario = Scenario.model_validate(
        {
            "seed": 2026,
            "start": "2026-11-23T00:00:00Z",
            "fleet": {"terminals": args.terminals, "stores": max(1, args.terminals // 5)},
        }
    )
    config = parse_config(
        fleet_config_yaml(
            generate_fleet(scenario.parameters()),
            http_base="http://127.0.0.1:9",
            mqtt_url="mqtt://127.0.0.1:9",
            escpos_ports={},
        )
    )
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        trace, truth = folder / "trace.jsonl", folder / "ground-truth.jsonl"
        started = time.perf_counter()
        record_history(scenario, args.hours * 3600, trace, truth)
        lines = sum(1 for _ in trace.open("rb"))
        print(
            f"recorded {args.hours:g} h of {args.terminals} terminals: {lines} lines, "
            f"{trace.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - started:.0f} s"
        )
        totals = []
        for run in range(args.runs):
            started = time.perf_counter()
            result = run_backtest(
                trace, config, truth, BacktestOptions(workers=args.workers)
            )
            total = time.perf_counter() - started
            totals.append(total)
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
            print(f"run {run + 1}: {total:.1f} s ({lines / total:,.0f} lines/s; {phases})")
    print(
        f"median {statistics.median(totals):.1f} s over {args.runs} run(s); "
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
