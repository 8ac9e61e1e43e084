"""``posfleet tickets``: the ticket bridge (serve) and its published OpenAPI document."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from posfleet.cli.config import EXIT_INVALID, load_or_exit


def _listen_address(listen: str) -> tuple[str, int] | None:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def _invalid(source: str, message: str) -> None:
    click.echo(f"{source}: {message}", err=True)
    raise SystemExit(EXIT_INVALID)


@click.group("tickets")
def tickets_group() -> None:
    """The ticket bridge: Alertmanager webhooks in, maintenance tickets out."""


@tickets_group.command("serve")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Configuration file (section tickets; stores give the addresses on tickets).",
)
@click.option("--listen", default=None, help="host:port to serve on (default: tickets.listen).")
def serve(config_path: Path, listen: str | None) -> None:
    """Receive Alertmanager webhooks and serve the ticket API until stopped."""
    # Imported here so that other posfleet commands start without FastAPI and SQLAlchemy.
    from posfleet.alerts.bridge.bridge import TicketBridge
    from posfleet.alerts.bridge.database import database_url, redacted
    from posfleet.alerts.bridge.inventory import Inventory
    from posfleet.alerts.bridge.server import serve as serve_bridge
    from posfleet.alerts.bridge.store import StoreUnavailable

    config = load_or_exit(config_path)
    settings = config.tickets
    source = str(config_path)
    address = _listen_address(listen or settings.listen)
    if address is None:
        _invalid(source, f"tickets.listen: {listen or settings.listen!r} is not host:port")
        return
    if not (settings.bearer_tokens or settings.basic_auth):
        _invalid(
            source,
            "tickets: no credentials: set tickets.bearer_tokens or tickets.basic_auth "
            "(e.g. POSFLEET_TICKETS__BEARER_TOKENS='[\"<token>\"]'); the bridge does not "
            "serve without authentication",
        )
    try:
        backend = database_url(settings.database).get_backend_name()
    except Exception as exc:
        _invalid(source, f"tickets.database: not a database path or URL: {exc}")
        return
    if backend not in ("sqlite", "postgresql"):
        _invalid(source, f"tickets.database: {backend!r} is not supported (SQLite, PostgreSQL)")

    bridge = TicketBridge(settings, Inventory(config))
    try:
        asyncio.run(bridge.start())
    except (StoreUnavailable, OSError, RuntimeError) as exc:
        _invalid(source, f"tickets.database: cannot open {redacted(settings.database)}: {exc}")
    host, port = address
    click.echo(f"posfleet tickets: serving on http://{host}:{port}", err=True)
    asyncio.run(serve_bridge(bridge.app, host, port))


@tickets_group.command("openapi")
@click.argument(
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    default="docs/schema/tickets.openapi.json",
)
def openapi(path: Path) -> None:
    """Write the bridge's OpenAPI document to PATH (default: docs/schema/tickets.openapi.json)."""
    from posfleet.alerts.bridge.openapi import write_openapi

    click.echo(f"wrote {write_openapi(path)}")
