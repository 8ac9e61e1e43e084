"""Run the demo: simulator, broker and collector together, with a live summary."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from posfleet.collector.app import CollectorApp
from posfleet.collector.state import Health
from posfleet.config import PosfleetConfig, parse_config
from posfleet.demo.broker import mosquitto
from posfleet.simulator.config_writer import TOKEN_ENV
from posfleet.simulator.runner import RunOptions, Simulation
from posfleet.simulator.scenario import Scenario
from posfleet.telemetry import StatusSnapshot, TransactionEvent


@dataclass(frozen=True, slots=True)
class DemoOptions:
    directory: Path
    scenario: Scenario
    duration: float | None = None
    summary_every_seconds: float = 5.0


class CountingSink:
    """Counts what reaches the outputs without keeping it (a demo may run for hours)."""

    def __init__(self) -> None:
        self.snapshot_count = 0
        self.outcomes: Counter[str] = Counter()

    async def publish(self, snapshot: StatusSnapshot) -> None:
        self.snapshot_count += 1

    async def publish_transaction(self, event: TransactionEvent) -> None:
        self.outcomes[event.outcome.value] += 1

    async def close(self) -> None:
        return None


def _collector_config(written: str, directory: Path) -> PosfleetConfig:
    """The simulator's fleet file, with the demo's collector settings and buffer folder."""
    data = yaml.safe_load(written)
    data.setdefault("collector", {}).update(
        {"id": "demo-edge", "interval_seconds": 5.0, "listen": "127.0.0.1:0"}
    )
    data.setdefault("buffer", {})["directory"] = str(directory / "buffer")
    return parse_config(yaml.safe_dump(data), "demo config")


def summary_line(app: CollectorApp, sink: CountingSink, simulation: Simulation) -> str:
    counts = app.state.health_counts()
    states = ", ".join(
        f"{counts.get(health, 0)} {health.value}"
        for health in (Health.ONLINE, Health.DEGRADED, Health.OFFLINE, Health.UNKNOWN)
        if counts.get(health, 0)
    )
    simulated = time.strftime("%H:%M", time.gmtime(simulation.fleet.now))
    sales = sum(sink.outcomes.values())
    failed = sales - sink.outcomes.get("approved", 0)
    return (
        f"sim {simulated} UTC | terminals: {states or 'none yet'} | snapshots {sink.snapshot_count}"
        f" | transactions {sales} ({failed} not approved)"
    )


async def run_demo(options: DemoOptions, say: Callable[[str], None], stop: asyncio.Event) -> None:
    directory = options.directory
    directory.mkdir(parents=True, exist_ok=True)
    say(f"demo data under {directory}")
    broker, mqtt_url = mosquitto(directory / "mosquitto")
    say("starting Mosquitto ...")
    await asyncio.to_thread(broker.start)
    try:
        say(f"  MQTT broker      {mqtt_url}")
        token = secrets.token_urlsafe(16)
        config_path = directory / "fleet.yml"
        simulation = Simulation(
            RunOptions(
                scenario=options.scenario,
                http_listen=("127.0.0.1", 0),
                token=token,
                mqtt_url=mqtt_url,
                write_config=config_path,
                ground_truth=directory / "ground-truth.jsonl",
            )
        )
        spec = simulation.spec
        say(
            f"starting the simulated fleet: {len(spec.terminals)} terminals in "
            f"{len(spec.stores)} stores of {len(spec.merchants)} merchants, "
            f"{options.scenario.speed:g}x real time ..."
        )
        stop_simulation = asyncio.Event()
        simulating = asyncio.create_task(simulation.run(stop_simulation))
        await asyncio.wait_for(simulation.ready.wait(), 60)
        say(f"  terminals (HTTP) {simulation.http_base}/terminals/<id>/status")
        say(f"  fleet config     {config_path}")
        config = _collector_config(config_path.read_text(encoding="utf-8"), directory)
        sink = CountingSink()
        app = CollectorApp(config, [sink], environ={TOKEN_ENV: token})
        stop_collector = asyncio.Event()
        collecting = asyncio.create_task(app.run(stop_collector))
        while app.metrics_address is None and not collecting.done():
            await asyncio.wait([collecting], timeout=0.1)
        say(f"  collector        http://{app.metrics_address}/metrics")
        say("running; Ctrl-C stops everything")
        deadline = time.monotonic() + options.duration if options.duration else None
        try:
            while not stop.is_set() and not collecting.done() and not simulating.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), options.summary_every_seconds)
                say(summary_line(app, sink, simulation))
                if deadline is not None and time.monotonic() >= deadline:
                    break
        finally:
            say("stopping ...")
            stop_collector.set()
            stop_simulation.set()
            await asyncio.gather(collecting, simulating, return_exceptions=True)
        for task in (collecting, simulating):
            if task.exception() is not None:
                raise RuntimeError("a demo component failed") from task.exception()
    finally:
        await asyncio.to_thread(broker.stop)
        say("demo stopped")
