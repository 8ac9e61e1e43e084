"""``posfleet stack up|down|status``: the central services for real terminals and collectors."""

from __future__ import annotations

from pathlib import Path

import click

from posfleet.stack.stack import (
    CENTRAL_CONFIG,
    DEFAULT_LISTEN,
    SERVICE_ORDER,
    TICKETS_TOKEN_FILE,
    StackError,
    StackPlan,
    check_interval,
    down,
    parse_listen,
    read_state,
    status,
    up,
)

EXIT_INVALID = 2
DEFAULT_DIR = Path("var/stack")

_dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_DIR,
    show_default=True,
    help="Where every service keeps its configuration, data and log, and the state file.",
)


def _echo(line: str) -> None:
    click.echo(line)


@click.group("stack")
def stack_group() -> None:
    """The central services (Mosquitto, InfluxDB, Prometheus + rules, Alertmanager, ticket
    bridge, ingest, web) on this machine, for real terminals and edge collectors."""


@stack_group.command("up")
@_dir_option
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="posfleet configuration with the fleet inventory (merchants, stores) and settings "
    "such as alerting or ticket targets; the stack sets where its own services listen.",
)
@click.option(
    "--listen",
    "listen_items",
    multiple=True,
    metavar="SERVICE=HOST:PORT",
    help="Address of one service (repeatable). Defaults: "
    + ", ".join(f"{name}={DEFAULT_LISTEN[name]}" for name in SERVICE_ORDER)
    + ".",
)
@click.option(
    "--influxdb-rpc-port",
    type=int,
    default=8088,
    show_default=True,
    help="InfluxDB's backup/restore RPC port (on the influxdb host).",
)
@click.option(
    "--collector",
    "collectors",
    multiple=True,
    metavar="HOST:PORT",
    help="An edge collector's /metrics address for Prometheus to scrape (repeatable).",
)
@click.option(
    "--scrape-interval",
    default="15s",
    show_default=True,
    help="Prometheus scrape and rule evaluation interval (deploy/prometheus uses 15s).",
)
def up_command(
    directory: Path,
    config_path: Path | None,
    listen_items: tuple[str, ...],
    influxdb_rpc_port: int,
    collectors: tuple[str, ...],
    scrape_interval: str,
) -> None:
    """Start the central services in the background and wait until each is ready."""
    directory = directory.resolve()
    try:
        plan = StackPlan(
            directory=directory,
            listen=parse_listen(listen_items),
            influxdb_rpc_port=influxdb_rpc_port,
            config_path=config_path,
            collectors=list(collectors),
            detached=True,
            scrape_interval=check_interval(scrape_interval),
            evaluation_interval=scrape_interval,
        )
        click.echo(f"starting the posfleet stack in {directory}")
        started = up(plan, _echo)
    except StackError as exc:
        click.echo(f"stack: {exc}", err=True)
        raise SystemExit(1 if "did not start" in str(exc) else EXIT_INVALID) from None
    click.echo("the stack is running:")
    for service in started:
        click.echo(f"  {service.name:<12} {service.url:<28} pid {service.process.pid}")
    click.echo(
        f"edge collectors: uplink.url {plan.url('mosquitto')} (ingest takes "
        f"posfleet/uplink/v1/...); Prometheus scrapes ingest and the --collector addresses"
    )
    if any(service.name == "web" for service in started):
        click.echo(
            f"web users: posfleet web user add -c {directory / CENTRAL_CONFIG} "
            "--username NAME --role it|merchant [--merchant M]"
        )
    click.echo(
        f"tickets API token: {directory / 'secrets' / TICKETS_TOKEN_FILE}; logs: "
        f"{directory}/<service>/<service>.log; stop: posfleet stack down --dir {directory}"
    )


@stack_group.command("status")
@_dir_option
def status_command(directory: Path) -> None:
    """Each service: running or stopped, pid, address, health. Exit 0 when all are healthy,
    3 when something is stopped or unhealthy, 1 when no stack was started in DIR."""
    directory = directory.resolve()
    try:
        rows = status(directory)
    except StackError as exc:
        click.echo(f"stack: {exc}", err=True)
        raise SystemExit(1) from None
    if not rows:
        click.echo(f"no stack is running in {directory}")
        raise SystemExit(1)
    click.echo(f"{'service':<12} {'state':<8} {'pid':>7}  {'address':<28} health")
    all_good = True
    for row in rows:
        state = "running" if row.running else "stopped"
        health = {True: "ok", False: "failing", None: "-"}[row.healthy]
        all_good = all_good and bool(row.healthy)
        click.echo(
            f"{row.state.name:<12} {state:<8} {row.state.pid:>7}  {row.state.url:<28} {health}"
        )
    if not all_good:
        raise SystemExit(3)


@stack_group.command("down")
@_dir_option
@click.option(
    "--timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds to wait after SIGTERM before SIGKILL, per service.",
)
def down_command(directory: Path, timeout: float) -> None:
    """Stop every service of the stack (SIGTERM, then SIGKILL after the timeout)."""
    directory = directory.resolve()
    try:
        if not read_state(directory):
            click.echo(f"no stack is running in {directory}")
            return
        click.echo(f"stopping the posfleet stack in {directory}")
        down(directory, _echo, timeout)
    except StackError as exc:
        click.echo(f"stack: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo("stack stopped")
