"""``posfleet simulate``: a deterministic simulated fleet that speaks the real protocols."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from posfleet.simulator.config_writer import TOKEN_ENV
from posfleet.simulator.http_server import HTTP_FAULTS, HttpFault
from posfleet.simulator.runner import RunOptions, Simulation
from posfleet.simulator.scenario import Scenario, ScenarioError, load_scenario
from posfleet.validation import field_errors

EXIT_INVALID = 2


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def _http_faults(values: tuple[str, ...]) -> dict[str, HttpFault]:
    faults: dict[str, HttpFault] = {}
    for value in values:
        terminal, _, mode = value.partition("=")
        if mode not in HTTP_FAULTS:
            raise click.BadParameter(
                f"{value!r}: expected TERMINAL=MODE with MODE one of {', '.join(HTTP_FAULTS)}"
            )
        faults[terminal] = mode  # checked against HTTP_FAULTS above
    return faults


def _scenario(path: Path | None, overrides: dict[str, Any], fleet: dict[str, Any]) -> Scenario:
    """The scenario file (or defaults) with the command-line flags applied on top."""
    base = load_scenario(path) if path else Scenario()
    data = base.model_dump()
    data.update({key: value for key, value in overrides.items() if value is not None})
    data["fleet"].update({key: value for key, value in fleet.items() if value is not None})
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError("command line", field_errors(exc)) from None


@click.command()
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(path_type=Path),
    help="Scenario YAML (fleet, seed, start, speed, scripted faults).",
)
@click.option("--terminals", type=int, help="Number of terminals (default 50).")
@click.option("--stores", type=int, help="Number of stores (default 10).")
@click.option("--merchants", type=int, help="Number of merchants (default 3).")
@click.option("--seed", type=int, help="Seed of every random draw (default 1).")
@click.option("--speed", type=float, help="Simulated seconds per real second (default 1).")
@click.option("--start", "start_at", help="Simulated start, RFC 3339 or 'now'.")
@click.option("--http-share", type=float, help="Share of terminals read over HTTP.")
@click.option("--mqtt-share", type=float, help="Share of terminals pushing over MQTT.")
@click.option(
    "--escpos-share", type=float, help="Share of receipt printers on a serial line (one pty each)."
)
@click.option(
    "--http-listen",
    default="127.0.0.1:8480",
    show_default=True,
    help="HOST:PORT of the status server of http terminals ('' for none).",
)
@click.option(
    "--token", envvar=TOKEN_ENV, show_envvar=True, help="Bearer token the status server requires."
)
@click.option("--mqtt-url", help="Broker that mqtt terminals push to, e.g. mqtt://127.0.0.1:1883.")
@click.option(
    "--write-config",
    type=click.Path(path_type=Path),
    help="Write a posfleet configuration for the simulated fleet to this file.",
)
@click.option(
    "--ground-truth",
    type=click.Path(path_type=Path),
    help="Append faults and failed transactions (JSON Lines) to this file.",
)
@click.option(
    "--record",
    type=click.Path(path_type=Path),
    help="Append every status snapshot and transaction event (JSON Lines).",
)
@click.option("--duration", type=float, help="Stop after this many real seconds.")
@click.option(
    "--http-fault",
    "http_fault",
    multiple=True,
    metavar="TERMINAL=MODE",
    help=f"Make a terminal misbehave over HTTP ({', '.join(HTTP_FAULTS)}).",
)
def simulate(
    scenario_path: Path | None,
    terminals: int | None,
    stores: int | None,
    merchants: int | None,
    seed: int | None,
    speed: float | None,
    start_at: str | None,
    http_share: float | None,
    mqtt_share: float | None,
    escpos_share: float | None,
    http_listen: str,
    token: str | None,
    mqtt_url: str | None,
    write_config: Path | None,
    ground_truth: Path | None,
    record: Path | None,
    duration: float | None,
    http_fault: tuple[str, ...],
) -> None:
    """Run a simulated fleet: HTTP status endpoints, MQTT pushes and ESC/POS printers."""
    start = datetime.now(UTC).replace(microsecond=0) if start_at == "now" else start_at
    try:
        scenario = _scenario(
            scenario_path,
            {"seed": seed, "speed": speed, "start": start},
            {"terminals": terminals, "stores": stores, "merchants": merchants},
        )
        if any(share is not None for share in (http_share, mqtt_share, escpos_share)):
            mix = scenario.fleet.drivers.model_dump()
            mix.update(
                {
                    k: v
                    for k, v in (
                        ("http", http_share),
                        ("mqtt", mqtt_share),
                        ("escpos", escpos_share),
                    )
                    if v is not None
                }
            )
            data = scenario.model_dump()
            data["fleet"]["drivers"] = mix
            scenario = Scenario.model_validate(data)
    except ScenarioError as exc:
        for message in exc.messages():
            click.echo(message, err=True)
        raise SystemExit(EXIT_INVALID) from None
    except ValidationError as exc:
        for error in field_errors(exc):
            click.echo(f"command line: {error}", err=True)
        raise SystemExit(EXIT_INVALID) from None
    options = RunOptions(
        scenario=scenario,
        http_listen=_listen(http_listen) if http_listen else None,
        token=token or None,
        mqtt_url=mqtt_url,
        write_config=write_config,
        ground_truth=ground_truth,
        record=record,
        duration=duration,
        http_faults=_http_faults(http_fault),
    )
    if options.http_listen and not options.token:
        raise click.UsageError(f"the HTTP server needs --token or ${TOKEN_ENV}")
    try:
        simulation = Simulation(options)
    except ScenarioError as exc:
        for message in exc.messages():
            click.echo(message, err=True)
        raise SystemExit(EXIT_INVALID) from None
    spec = simulation.spec
    click.echo(
        f"Simulating {len(spec.terminals)} terminals in {len(spec.stores)} stores of "
        f"{len(spec.merchants)} merchants (seed {scenario.seed}, speed {scenario.speed})",
        err=True,
    )
    asyncio.run(_run(simulation))


async def _run(simulation: Simulation) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await simulation.run(stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


__all__ = ["simulate"]
