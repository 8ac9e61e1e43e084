"""Time from a fault's first sign to its maintenance ticket, with the shipped configuration.

Real servers on free loopback ports in a temp directory, started and stopped like the test
fixtures do (``posfleet.stack.process.ManagedProcess``): Prometheus 2.42 with the shipped
scrape and evaluation intervals of ``deploy/prometheus/prometheus.yml`` and the shipped rule
files of ``alerts/`` (real ``for:``); Alertmanager 0.25 with the shipped
``deploy/alertmanager/alertmanager.yml`` (routes, waits and inhibitions as shipped; the
bridge receiver pointed at the local bridge, the mail/WeCom/Slack receivers silenced); the
ticket bridge as ``posfleet tickets serve`` (SQLite). In this process: the simulator at real
speed (speed 1) with the fleet of ``deploy/scenarios/paper-runs-out.yml`` and the collector
with its shipped defaults (15 s poll interval).

Scripted faults, at the same known moment (``--fault-after`` seconds after the warm-up):

* ``paper_near_end`` on T-0006 (store S-002): the paper runs low while it keeps selling;
  expected ticket PrinterPaperRunningOut. Its first sign is the sensor trip.
* ``paper_out`` on T-0001 (store S-001, another Alertmanager group): expected ticket
  PrinterPaperOut. Its first sign is the ground truth's fault start.

Time to ticket = the ticket's ``opened_at`` in the bridge minus the fault's start. Slower
alerts (``for:`` of 5 minutes and more) are not run; the table at the end gives every
alert's floor from the shipped timings instead.

Two things differ from a production day, neither on the path from fault to ticket: the
collector's wall clock follows the simulated lunch hour (so the store is open and selling
whenever the benchmark runs), and the first minute runs at speed 20, so that the collector
has the 20 minutes of sales history a collector running since the morning would have (the
paper forecast needs the print rate); from then on, faults included, time is real.

    .venv/bin/python bench/time_to_ticket.py [--warm-seconds 60] [--fault-after 30] [--limit 240]
        [--rule-for PrinterPaperRunningOut=30s] [--evaluation-interval 15s]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from posfleet.collector.app import CollectorApp
from posfleet.config import parse_config
from posfleet.config.models import CollectorSettings
from posfleet.simulator.clock import Clock as SimulatedClock
from posfleet.simulator.config_writer import TOKEN_ENV
from posfleet.simulator.runner import RunOptions, Simulation
from posfleet.simulator.scenario import Scenario, load_scenario
from posfleet.stack.alertmanager import config_for_bridge
from posfleet.stack.net import LOOPBACK, free_port
from posfleet.stack.process import ManagedProcess
from posfleet.stack.rules import parse_duration_ms

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "deploy" / "scenarios" / "paper-runs-out.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RULE_FILES = sorted((ROOT / "alerts").glob("*.yml"))
BRIDGE_TOKEN = "bench-bridge-token"
SIMULATOR_TOKEN = "bench-simulator-token"
TARGET_SECONDS = 90.0
BRIDGE_RECEIVER = "ticket-bridge"


@dataclass(frozen=True)
class Probe:
    """A scripted fault and the ticket it should open."""

    kind: str
    terminal: str
    alertname: str


PROBES = (
    Probe("paper_near_end", "T-0006", "PrinterPaperRunningOut"),
    Probe("paper_out", "T-0001", "PrinterPaperOut"),
)

def seconds(duration: str) -> float:
    """Seconds of a Prometheus duration such as ``2m`` or ``1h30m``."""
    return parse_duration_ms(duration) / 1000


# --- the shipped configuration ---------------------------------------------------------------


@dataclass(frozen=True)
class Timings:
    """The shipped pipeline timings (seconds)."""

    collector_interval: float
    scrape_interval: float
    evaluation_interval: float
    bridge_group_wait: float
    bridge_group_interval: float

    @classmethod
    def shipped(cls, evaluation_interval: str | None) -> Timings:
        prometheus = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
        (job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "posfleet-collector"]
        scrape = job.get("scrape_interval", prometheus["global"]["scrape_interval"])
        route = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())["route"]
        (bridge,) = [r for r in route["routes"] if r["receiver"] == BRIDGE_RECEIVER]
        collector = CollectorSettings().interval_seconds
        return cls(
            collector_interval=collector,
            scrape_interval=seconds(scrape),
            evaluation_interval=seconds(
                evaluation_interval or prometheus["global"]["evaluation_interval"]
            ),
            bridge_group_wait=seconds(bridge.get("group_wait", route["group_wait"])),
            bridge_group_interval=seconds(bridge.get("group_interval", route["group_interval"])),
        )

    def floor(self, for_seconds: float) -> float:
        """Fastest possible: the sample is read, scraped and evaluated at once."""
        return for_seconds + self.bridge_group_wait

    def worst(self, for_seconds: float) -> float:
        """Slowest, for the first alert of a store: every wait at its longest."""
        evaluations = math.ceil(for_seconds / self.evaluation_interval)
        return (
            self.collector_interval
            + self.scrape_interval
            + self.evaluation_interval
            + evaluations * self.evaluation_interval
            + self.bridge_group_wait
        )


def shipped_rules(overrides: dict[str, str]) -> list[dict[str, Any]]:
    """The alert rules of the shipped files, with ``for:`` overridden per alert if asked."""
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    if rule["alert"] in overrides:
                        rule["for"] = overrides[rule["alert"]]
                    rules.append(rule)
    return rules


def rule_files(target: Path, overrides: dict[str, str]) -> list[Path]:
    """The shipped rule files, or copies with the overridden ``for:`` durations."""
    if not overrides:
        return RULE_FILES
    target.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in RULE_FILES:
        document = yaml.safe_load(path.read_text())
        for group in document["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") in overrides:
                    rule["for"] = overrides[rule["alert"]]
        copy_path = target / path.name
        copy_path.write_text(yaml.safe_dump(document, sort_keys=False))
        copies.append(copy_path)
    return copies


# --- servers -----------------------------------------------------------------------------------


def _ready(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=1) as response:
            return int(response.status) == 200
    except OSError:
        return False


@contextmanager
def running(process: ManagedProcess) -> Iterator[ManagedProcess]:
    process.start()
    try:
        yield process
    finally:
        process.stop()


def bridge_process(workdir: Path) -> tuple[ManagedProcess, str]:
    port = free_port()
    config = workdir / "bridge.yml"
    database = workdir / "tickets.sqlite3"
    config.write_text(f"tickets: {{listen: '{LOOPBACK}:{port}', database: '{database}'}}\n")
    url = f"http://{LOOPBACK}:{port}"
    process = ManagedProcess(
        "ticket-bridge",
        [
            sys.executable,
            "-m",
            "posfleet",
            "--log-level",
            "warning",
            "tickets",
            "serve",
            "-c",
            str(config),
        ],
        log_path=workdir / "bridge.log",
        ready=lambda: _ready(f"{url}/healthz"),
        env={**os.environ, "POSFLEET_TICKETS__BEARER_TOKENS": json.dumps([BRIDGE_TOKEN])},
    )
    return process, url


def alertmanager_process(workdir: Path, bridge_url: str) -> tuple[ManagedProcess, str]:
    port = free_port()
    token_file = workdir / "bridge-token"
    token_file.write_text(BRIDGE_TOKEN)
    config = workdir / "alertmanager.yml"
    config.write_text(
        yaml.safe_dump(config_for_bridge(f"{bridge_url}/api/v1/alertmanager", token_file))
    )
    address = f"{LOOPBACK}:{port}"
    process = ManagedProcess(
        "alertmanager",
        [
            "prometheus-alertmanager",
            f"--config.file={config}",
            f"--storage.path={workdir / 'alertmanager-data'}",
            f"--web.listen-address={address}",
            "--cluster.listen-address=",
        ],
        log_path=workdir / "alertmanager.log",
        ready=lambda: _ready(f"http://{address}/-/ready"),
        cwd=workdir,
    )
    return process, address


def prometheus_process(
    workdir: Path, collector: str, alertmanager: str, rules: list[Path], evaluation: float
) -> ManagedProcess:
    shipped = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (job,) = [j for j in shipped["scrape_configs"] if j["job_name"] == "posfleet-collector"]
    job = {**job, "static_configs": [{"targets": [collector]}]}
    config = {
        "global": {**shipped["global"], "evaluation_interval": f"{evaluation:g}s"},
        "rule_files": [str(path) for path in rules],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [job],
    }
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    return ManagedProcess(
        "prometheus",
        [
            "prometheus",
            f"--config.file={path}",
            f"--storage.tsdb.path={workdir / 'prometheus-data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
        ],
        log_path=workdir / "prometheus.log",
        ready=lambda: _ready(f"http://{LOOPBACK}:{port}/-/ready"),
        cwd=workdir,
    )


# --- the run -----------------------------------------------------------------------------------


class SimulatedWallClock:
    """The collector's clock: real monotonic time and sleeps, wall time from the simulation."""

    def __init__(self, simulated: SimulatedClock) -> None:
        self._simulated = simulated

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._simulated.now(), UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _collector_config(written: str, listen: str) -> Any:
    data = yaml.safe_load(written)
    data["collector"] = {"id": "edge-bench", "listen": listen}
    return parse_config(yaml.safe_dump(data), "simulator-written config")


async def _opened_tickets(bridge_url: str) -> dict[tuple[str, str], datetime]:
    headers = {"Authorization": f"Bearer {BRIDGE_TOKEN}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.get(f"{bridge_url}/api/v1/tickets?limit=1000") as response,
    ):
        body = await response.json()
    return {
        (ticket["alertname"], ticket["terminal"] or ""): datetime.fromisoformat(
            ticket["opened_at"].replace("Z", "+00:00")
        )
        for ticket in body["tickets"]
    }


class WarmUpClock:
    """Simulated time at ``warm_speed`` for the first ``warm_seconds`` real seconds, then at
    real speed: the collector gets a morning's sales history (the paper forecast needs one)
    in a minute, and everything from the faults on runs in real time."""

    def __init__(self, start: float, warm_speed: float, warm_seconds: float) -> None:
        self._start = start
        self._speed = warm_speed
        self._warm = warm_seconds
        self._origin = time.monotonic()

    @property
    def warm_until(self) -> float:
        """Simulated instant at which the clock slows down to real speed."""
        return self._start + self._warm * self._speed

    def now(self) -> float:
        elapsed = time.monotonic() - self._origin
        warm = min(elapsed, self._warm)
        return self._start + warm * self._speed + (elapsed - warm)


async def measure(
    bridge_url: str, collector_listen: str, workdir: Path, args: argparse.Namespace
) -> dict[Probe, float | None]:
    """Run the fleet with the probes' faults; time to ticket per probe (None: no ticket)."""
    scenario = load_scenario(SCENARIO)
    clock = WarmUpClock(scenario.start.timestamp(), args.warm_speed, args.warm_seconds)
    fault_at = datetime.fromtimestamp(clock.warm_until + args.fault_after, UTC)
    faults: list[dict[str, Any]] = [
        {"at": fault_at, "kind": probe.kind, "terminal": probe.terminal} for probe in PROBES
    ]
    faults[1]["for_minutes"] = 10  # staff put in a roll after ten minutes
    scenario = Scenario.model_validate({**scenario.model_dump(), "speed": 1.0, "faults": faults})
    config_path = workdir / "fleet.yml"
    simulation = Simulation(
        RunOptions(
            scenario=scenario,
            http_listen=(LOOPBACK, 0),
            token=SIMULATOR_TOKEN,
            write_config=config_path,
            ground_truth=workdir / "truth.jsonl",
        ),
        clock=clock,
    )
    stop = asyncio.Event()
    simulating = asyncio.create_task(simulation.run(stop))
    collecting: asyncio.Task[None] | None = None
    found: dict[Probe, float | None] = dict.fromkeys(PROBES)
    try:
        await asyncio.wait_for(simulation.ready.wait(), 10)
        app = CollectorApp(
            _collector_config(config_path.read_text(), collector_listen),
            clock=SimulatedWallClock(clock),
            environ={TOKEN_ENV: SIMULATOR_TOKEN},
        )
        collecting = asyncio.create_task(app.run(stop))
        deadline = time.monotonic() + args.warm_seconds + args.fault_after + args.limit
        while time.monotonic() < deadline and any(value is None for value in found.values()):
            await asyncio.sleep(1.0)
            opened = await _opened_tickets(bridge_url)
            # After the warm-up, simulated time runs at real speed: a constant offset.
            offset = clock.now() - time.time()
            for probe in PROBES:
                at = opened.get((probe.alertname, probe.terminal))
                if at is not None and found[probe] is None:
                    found[probe] = at.timestamp() + offset - fault_at.timestamp()
                    print(
                        f"  {probe.alertname} ticket for {probe.terminal}: "
                        f"{found[probe]:.1f} s after {probe.kind}",
                        flush=True,
                    )
    finally:
        stop.set()
        if collecting is not None:
            await asyncio.wait_for(collecting, 30)
        await asyncio.wait_for(simulating, 30)
    return found


def print_floors(timings: Timings, overrides: dict[str, str]) -> None:
    print(
        f"\nTime to ticket from the shipped timings (target {TARGET_SECONDS:g} s): floor = "
        f"for + bridge group_wait; worst = collector {timings.collector_interval:g} s + "
        f"scrape {timings.scrape_interval:g} s + evaluation {timings.evaluation_interval:g} "
        f"s + for (in evaluations) + group_wait {timings.bridge_group_wait:g} s. A store "
        f"whose Alertmanager group is already notifying waits for its group_interval "
        f"({timings.bridge_group_interval:g} s) instead of group_wait."
    )
    print(f"  {'alert':32} {'for':>6} {'floor':>7} {'worst':>7}")
    for rule in sorted(shipped_rules(overrides), key=lambda r: seconds(str(r.get("for", "0s")))):
        duration = str(rule.get("for", "0s"))
        for_seconds = seconds(duration)
        worst = timings.worst(for_seconds)
        verdict = (
            "ok"
            if worst <= TARGET_SECONDS
            else ("typical ok" if timings.floor(for_seconds) + 20 <= TARGET_SECONDS else "over")
        )
        print(
            f"  {rule['alert']:32} {duration:>6} {timings.floor(for_seconds):6.0f}s "
            f"{worst:6.0f}s  {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--warm-seconds",
        type=float,
        default=60.0,
        help="real seconds of accelerated sales history before real speed",
    )
    parser.add_argument(
        "--warm-speed",
        type=float,
        default=20.0,
        help="simulated seconds per real second during the warm-up",
    )
    parser.add_argument(
        "--fault-after",
        type=float,
        default=30.0,
        help="seconds after the warm-up at which the faults happen",
    )
    parser.add_argument(
        "--limit",
        type=float,
        default=240.0,
        help="seconds after the faults to wait for their tickets",
    )
    parser.add_argument(
        "--rule-for",
        action="append",
        default=[],
        metavar="ALERT=DURATION",
        help="try another for: for one alert (a proposal), e.g. PrinterPaperOut=15s",
    )
    parser.add_argument("--evaluation-interval", help="try another evaluation interval")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.rule_for)
    timings = Timings.shipped(args.evaluation_interval)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"timings: collector {timings.collector_interval:g} s, scrape "
        f"{timings.scrape_interval:g} s, evaluation {timings.evaluation_interval:g} s, "
        f"bridge group_wait {timings.bridge_group_wait:g} s"
        + (f"; for: overrides {overrides}" if overrides else "; shipped for:")
    )
    with tempfile.TemporaryDirectory(prefix="posfleet-bench-ticket-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        bridge, bridge_url = bridge_process(workdir)
        stack.enter_context(running(bridge))
        manager, manager_address = alertmanager_process(workdir, bridge_url)
        stack.enter_context(running(manager))
        collector_listen = f"{LOOPBACK}:{free_port()}"
        rules = rule_files(workdir / "rules", overrides)
        stack.enter_context(
            running(
                prometheus_process(
                    workdir, collector_listen, manager_address, rules, timings.evaluation_interval
                )
            )
        )
        print(
            f"warm-up {args.warm_seconds:g} s at speed {args.warm_speed:g}, then real "
            f"speed; faults {args.fault_after:g} s later; tickets awaited for at most "
            f"{args.limit:g} s",
            flush=True,
        )
        started = time.monotonic()
        found = asyncio.run(measure(bridge_url, collector_listen, workdir, args))
        print(f"ran {time.monotonic() - started:.0f} s")
    print("\nMeasured time to ticket:")
    for probe, value in found.items():
        shown = f"{value:.1f} s" if value is not None else f"no ticket within {args.limit:g} s"
        verdict = (
            ""
            if value is None
            else (" (target met)" if value <= TARGET_SECONDS else " (over target)")
        )
        print(f"  {probe.kind:15} {probe.terminal} -> {probe.alertname:24} {shown}{verdict}")
    print_floors(timings, overrides)


if __name__ == "__main__":
    main()
