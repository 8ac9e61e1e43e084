"""``posfleet collect``: run the edge collector until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from posfleet.cli.config import EXIT_INVALID, load_or_exit
from posfleet.cli.signals import stop_on_signals
from posfleet.collector.app import CollectorApp, StartupError
from posfleet.collector.sink import JsonLinesSink, Sink
from posfleet.exporters.outputs import Outputs, build_outputs


async def _run_until_signalled(app: CollectorApp, outputs: Outputs) -> None:
    async with stop_on_signals() as stop:
        await outputs.start()
        await app.run(stop)


@click.command("collect")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Fleet configuration file.",
)
@click.option(
    "--print",
    "print_snapshots",
    is_flag=True,
    help="Also write every snapshot and transaction event to stdout, one JSON object a line.",
)
@click.option("--listen", default=None, help="host:port of /metrics (default: collector.listen).")
def collect(config_path: Path, print_snapshots: bool, listen: str | None) -> None:
    """Poll the terminals in the configuration until stopped (SIGTERM or Ctrl-C)."""
    config = load_or_exit(config_path)
    try:
        outputs = build_outputs(config, role="collector")
    except OSError as exc:
        click.echo(f"{config_path}: cannot open the output buffer: {exc}", err=True)
        raise SystemExit(EXIT_INVALID) from None
    sinks: list[Sink] = [*outputs.sinks, *([JsonLinesSink()] if print_snapshots else [])]
    try:
        app = CollectorApp(config, sinks, listen=listen)
        outputs.register_metrics(app.registry)
        asyncio.run(_run_until_signalled(app, outputs))
    except StartupError as exc:
        for problem in exc.problems:
            click.echo(f"{config_path}: {problem}", err=True)
        raise SystemExit(EXIT_INVALID) from None
