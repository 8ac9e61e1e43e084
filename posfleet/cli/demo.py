"""``posfleet demo``: the main job, as far as it exists."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from posfleet.demo.run import DemoOptions, run_demo
from posfleet.simulator.scenario import Scenario, ScenarioError, load_scenario
from posfleet.stack.process import ServerStartError

EXIT_INVALID = 2


async def _run(options: DemoOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    await run_demo(options, lambda line: click.echo(line), stop)


@click.command()
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(path_type=Path),
    help="Scenario YAML (see deploy/scenarios/); default: a chain of 150 terminals.",
)
@click.option("--terminals", type=int, default=150, show_default=True)
@click.option("--stores", type=int, default=12, show_default=True)
@click.option("--merchants", type=int, default=3, show_default=True)
@click.option(
    "--speed",
    type=float,
    default=60.0,
    show_default=True,
    help="Simulated seconds per real second.",
)
@click.option("--duration", type=float, help="Stop after this many seconds (default: Ctrl-C).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/demo"),
    show_default=True,
    help="Everything the demo writes: broker data, fleet config, ground truth, logs.",
)
def demo(
    scenario_path: Path | None,
    terminals: int,
    stores: int,
    merchants: int,
    speed: float,
    duration: float | None,
    data_dir: Path,
) -> None:
    """Run a simulated chain of stores and watch the collector poll it live."""
    try:
        if scenario_path is not None:
            scenario = load_scenario(scenario_path)
        else:
            scenario = Scenario.model_validate(
                {
                    "speed": speed,
                    "fleet": {"terminals": terminals, "stores": stores, "merchants": merchants},
                }
            )
    except ScenarioError as exc:
        for message in exc.messages():
            click.echo(message, err=True)
        raise SystemExit(EXIT_INVALID) from None
    options = DemoOptions(directory=data_dir.resolve(), scenario=scenario, duration=duration)
    try:
        asyncio.run(_run(options))
    except ServerStartError as exc:
        click.echo(f"demo: {exc}", err=True)
        raise SystemExit(1) from None
