"""``posfleet demo``: the main job -- a simulated chain of stores through the whole chain."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from posfleet.simulator.scenario import Scenario, ScenarioError, load_scenario
from posfleet.stack.alertmanager import ROOT
from posfleet.validation import field_errors

if TYPE_CHECKING:
    from posfleet.demo.run import DemoOptions

EXIT_INVALID = 2
DEMO_SCENARIO = ROOT / "deploy" / "scenarios" / "demo.yml"


async def _run(options: DemoOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    from posfleet.demo.run import run_demo

    await run_demo(options, lambda line: click.echo(line), stop)


def _scenario(
    path: Path | None,
    terminals: int | None,
    stores: int | None,
    merchants: int | None,
    speed: float | None,
) -> Scenario:
    scenario = load_scenario(path or DEMO_SCENARIO)
    data: dict[str, Any] = scenario.model_dump(mode="json")
    fleet = data["fleet"]
    for key, value in (("terminals", terminals), ("stores", stores), ("merchants", merchants)):
        if value is not None:
            fleet[key] = value
    if speed is not None:
        data["speed"] = speed
    if (terminals, stores, merchants) != (None, None, None):
        # A smaller fleet may not have the terminals the scripted faults name.
        known = {f"T-{n:04d}" for n in range(1, fleet["terminals"] + 1)}
        known |= {f"S-{n:03d}" for n in range(1, fleet["stores"] + 1)}
        known |= {f"M-{n:02d}" for n in range(1, fleet["merchants"] + 1)}
        data["faults"] = [
            fault for fault in data["faults"]
            if (fault.get("terminal") or fault.get("store") or fault.get("merchant")) in known
        ]
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError("command line", field_errors(exc)) from None


@click.command()
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(path_type=Path),
    help="Scenario YAML (see deploy/scenarios/); default: deploy/scenarios/demo.yml "
    "(150 terminals in 12 stores of 3 merchants, faults from the first minutes, speed 30).",
)
@click.option("--terminals", type=int, help="Override the scenario's number of terminals.")
@click.option("--stores", type=int, help="Override the scenario's number of stores.")
@click.option("--merchants", type=int, help="Override the scenario's number of merchants.")
@click.option("--speed", type=float, help="Simulated seconds per real second (override).")
@click.option("--duration", type=float, help="Stop after this many seconds (default: Ctrl-C).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/demo"),
    show_default=True,
    help="Everything the demo writes: each server's data and log, fleet config, ground "
    "truth. A new run replaces what the previous one wrote there.",
)
@click.option("--no-web", is_flag=True, help="Do not start the web app.")
def demo(
    scenario_path: Path | None,
    terminals: int | None,
    stores: int | None,
    merchants: int | None,
    speed: float | None,
    duration: float | None,
    data_dir: Path,
    no_web: bool,
) -> None:
    """Run a simulated chain of stores through collector, ingest, InfluxDB, Prometheus,
    Alertmanager, the ticket bridge and the web app, with a live summary."""
    try:
        scenario = _scenario(scenario_path, terminals, stores, merchants, speed)
    except ScenarioError as exc:
        for message in exc.messages():
            click.echo(message, err=True)
        raise SystemExit(EXIT_INVALID) from None
    # Imported once the scenario is known good: the whole chain takes seconds to import.
    from posfleet.demo.run import DemoOptions
    from posfleet.stack.process import ServerStartError
    from posfleet.stack.stack import StackError

    options = DemoOptions(
        directory=data_dir.resolve(), scenario=scenario, duration=duration, web=not no_web
    )
    try:
        asyncio.run(_run(options))
    except (StackError, ServerStartError) as exc:
        click.echo(f"demo: {exc}", err=True)
        raise SystemExit(1) from None
