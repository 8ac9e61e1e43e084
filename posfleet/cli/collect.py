"""``posfleet collect``: run the edge collector until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from posfleet.cli.config import EXIT_INVALID, load_or_exit
from posfleet.collector.app import CollectorApp, StartupError
from posfleet.collector.sink import JsonLinesSink, Sink


async def _run_until_signalled(app: CollectorApp) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    try:
        await app.run(stop)
    finally:
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signal_number)


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
    sinks: list[Sink] = [JsonLinesSink()] if print_snapshots else []
    try:
        app = CollectorApp(config, sinks, listen=listen)
        asyncio.run(_run_until_signalled(app))
    except StartupError as exc:
        for problem in exc.problems:
            click.echo(f"{config_path}: {problem}", err=True)
        raise SystemExit(EXIT_INVALID) from None
