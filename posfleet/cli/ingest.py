"""``posfleet ingest``: central ingest from MQTT until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from posfleet.cli.config import EXIT_INVALID, load_or_exit
from posfleet.cli.signals import stop_on_signals
from posfleet.collector.sink import JsonLinesSink, Sink
from posfleet.exporters.ingest.app import IngestApp, IngestStartupError
from posfleet.exporters.outputs import build_outputs


async def _start(
    config_path: Path, print_messages: bool, listen: str | None, client_id: str | None
) -> None:
    config = load_or_exit(config_path)
    try:
        outputs = build_outputs(config, role="ingest")
    except OSError as exc:
        raise IngestStartupError([f"cannot open the output buffer: {exc}"]) from None
    sinks: list[Sink] = [*outputs.sinks, *([JsonLinesSink()] if print_messages else [])]
    app = IngestApp(config, sinks, listen=listen, client_id=client_id)
    outputs.register_metrics(app.registry)
    async with stop_on_signals() as stop:
        await outputs.start()
        await app.run(stop)


@click.command("ingest")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Configuration file (sections ingest, uplink, mqtt, influxdb).",
)
@click.option(
    "--print",
    "print_messages",
    is_flag=True,
    help="Also write every accepted snapshot and transaction to stdout, one JSON object a line.",
)
@click.option("--listen", default=None, help="host:port of /metrics (default: ingest.listen).")
@click.option(
    "--client-id",
    default=None,
    help="MQTT client id of this copy (default: ingest.client_id or <share_group>-<host>); "
    "give every copy its own, the same across restarts.",
)
def ingest(
    config_path: Path, print_messages: bool, listen: str | None, client_id: str | None
) -> None:
    """Take snapshots and transactions from MQTT (shared subscription) until stopped."""
    try:
        asyncio.run(_start(config_path, print_messages, listen, client_id))
    except IngestStartupError as exc:
        for problem in exc.problems:
            click.echo(f"{config_path}: {problem}", err=True)
        raise SystemExit(EXIT_INVALID) from None
