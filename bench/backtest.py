"""Backtest throughput: a simulated fleet history replayed through the shipped rules with
real promtool and Prometheus (target: a week of 200 terminals, one snapshot a minute, in a
few minutes). Prints each phase's time, the median of the runs, and the machine.

    .venv/bin/python bench/backtest.py [--terminals 200] [--hours 24] [--runs 1]
    .venv/bin/python bench/backtest.py --history var/day0/trace.jsonl \
        --ground-truth var/day0/ground-truth.jsonl --config var/day0/fleet.yml

With ``--history`` it replays a recorded history instead of simulating one. Besides each
phase's wall time it prints the CPU time of the run (this process and its children: replay
workers, promtool, Prometheus), which a busy machine inflates much less than wall time.
The standard week itself: see docs/backtest.md (``posfleet backtest record`` then ``run``).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

from posfleet.backtest.run import BacktestOptions, run_backtest
from posfleet.backtest.simulated import record_history
from posfleet.config.loader import load_config, parse_config
from posfleet.config.models import PosfleetConfig
from posfleet.simulator.config_writer import fleet_config_yaml
from posfleet.simulator.fleet import generate_fleet
from posfleet.simulator.scenario import Scenario


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _simulated(
    folder: Path, terminals: int, hours: float
) -> tuple[Path, Path, PosfleetConfig]:
    scenario = Scenario.model_validate(
        {
            "seed": 2026,
            "start": "2026-11-23T00:00:00Z",
            "fleet": {"terminals": terminals, "stores": max(1, terminals // 5)},
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
    trace, truth = folder / "trace.jsonl", folder / "ground-truth.jsonl"
    started = time.perf_counter()
    record_history(scenario, hours * 3600, trace, truth)
    print(
        f"recorded {hours:g} h of {terminals} terminals in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return trace, truth, config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--terminals", type=int, default=200)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--history", type=Path, help="A recorded history (skips the simulation).")
    parser.add_argument("--ground-truth", type=Path, help="Its ground truth (with --history).")
    parser.add_argument("--config", type=Path, help="Its fleet configuration (with --history).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        if args.history is not None:
            if args.config is None:
                parser.error("--history needs --config")
            trace, truth, config = args.history, args.ground_truth, load_config(args.config)
        else:
            trace, truth, config = _simulated(Path(directory), args.terminals, args.hours)
        lines = sum(1 for _ in trace.open("rb"))
        print(f"history: {lines} lines, {trace.stat().st_size / 1e6:.0f} MB")
        totals = []
        for run in range(args.runs):
            started, cpu = time.perf_counter(), _cpu_seconds()
            result = run_backtest(
                trace, config, truth, BacktestOptions(workers=args.workers)
            )
            total = time.perf_counter() - started
            totals.append(total)
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
            print(
                f"run {run + 1}: {total:.1f} s ({lines / total:,.0f} lines/s; {phases}); "
                f"CPU {_cpu_seconds() - cpu:.1f} s"
            )
    print(
        f"median {statistics.median(totals):.1f} s over {args.runs} run(s); "
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
