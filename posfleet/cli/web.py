"""``posfleet web``: the web app (serve), its users (user add/list) and its OpenAPI document."""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path

import click

from posfleet.cli.config import EXIT_INVALID, load_or_exit
from posfleet.cli.tickets import _listen_address


def _invalid(source: str, message: str) -> None:
    click.echo(f"{source}: {message}", err=True)
    raise SystemExit(EXIT_INVALID)


_CONFIG = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Configuration file (sections web, status_store, payments; merchants and stores "
    "give names and time zones).",
)


@click.group("web")
def web_group() -> None:
    """The web app: merchants' status pages, IT's fleet view and ticket queue, JSON API."""


@web_group.command("serve")
@_CONFIG
@click.option("--listen", default=None, help="host:port to serve on (default: web.listen).")
def serve(config_path: Path, listen: str | None) -> None:
    """Serve the web app until stopped (SIGTERM or Ctrl-C)."""
    from posfleet.alerts.bridge.database import redacted
    from posfleet.alerts.bridge.server import serve as serve_app
    from posfleet.web.app import create_app
    from posfleet.web.context import WebContext, status_database

    config = load_or_exit(config_path)
    source = str(config_path)
    address = _listen_address(listen or config.web.listen)
    if address is None:
        _invalid(source, f"web.listen: {listen or config.web.listen!r} is not host:port")
        return
    if config.web.session_secret is None:
        click.echo(
            "posfleet web: web.session_secret is not set (POSFLEET_WEB__SESSION_SECRET); "
            "everyone signs in again after a restart",
            err=True,
        )
    try:
        context = WebContext.from_config(config)
    except Exception as exc:
        _invalid(source, f"web.database: cannot open {redacted(status_database(config))}: {exc}")
        return
    host, port = address
    click.echo(f"posfleet web: serving on http://{host}:{port}", err=True)
    asyncio.run(serve_app(create_app(context), host, port))


@web_group.group("user")
def user_group() -> None:
    """Users of the web app."""


@user_group.command("add")
@_CONFIG
@click.option("--username", required=True, help="Sign-in name.")
@click.option(
    "--role", type=click.Choice(["it", "merchant"]), required=True,
    help="it: sees the whole fleet; merchant: sees one merchant's data only.",
)
@click.option("--merchant", default=None, help="Merchant id a merchant user may see.")
@click.option(
    "--password-stdin", is_flag=True,
    help="Read the password from standard input (else one is generated and printed).",
)
def user_add(
    config_path: Path, username: str, role: str, merchant: str | None, password_stdin: bool
) -> None:
    """Create a user (the first admin: --role it)."""
    from posfleet.web.accounts import AccountError, AccountStore
    from posfleet.web.context import status_database

    config = load_or_exit(config_path)
    database = config.web.accounts_database or status_database(config)
    known = {m.id for m in config.merchants}
    if role == "merchant" and merchant and known and merchant not in known:
        _invalid(str(config_path), f"--merchant: {merchant!r} is not a merchant of the fleet "
                                   f"(known: {', '.join(sorted(known))})")
    generated = not password_stdin
    password = secrets.token_urlsafe(18) if generated else sys.stdin.readline().rstrip("\n")
    store = AccountStore.open(database)
    try:
        store.add_user(username, password, role, merchant)
    except AccountError as exc:
        _invalid(str(config_path), f"--{exc}" if str(exc).startswith(("username", "merchant"))
                 else str(exc))
    finally:
        store.dispose()
    suffix = f" for merchant {merchant}" if merchant else ""
    click.echo(f"created {role} user {username!r}{suffix}")
    if generated:
        click.echo(f"password: {password}")


@user_group.command("list")
@_CONFIG
def user_list(config_path: Path) -> None:
    """List the users: name, role, merchant."""
    from posfleet.web.accounts import AccountStore
    from posfleet.web.context import status_database

    config = load_or_exit(config_path)
    store = AccountStore.open(config.web.accounts_database or status_database(config))
    try:
        for user in store.list_users():
            click.echo(f"{user.username}\t{user.role}\t{user.merchant_id or '-'}")
    finally:
        store.dispose()


@web_group.command("openapi")
@click.argument(
    "path", type=click.Path(path_type=Path, dir_okay=False), default="docs/schema/web.openapi.json"
)
def openapi(path: Path) -> None:
    """Write the web app's OpenAPI document to PATH (default: docs/schema/web.openapi.json)."""
    from posfleet.web.openapi import write_openapi

    click.echo(f"wrote {write_openapi(path)}")
