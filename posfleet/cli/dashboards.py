"""``posfleet dashboards``: generate the Grafana dashboards' JSON and push them to Grafana."""

from __future__ import annotations

import os
from pathlib import Path

import click

from posfleet.cli.config import EXIT_INVALID
from posfleet.dashboards import build as dashboard_build
from posfleet.dashboards.datasources import INFLUXDB_DATABASE, datasource_payloads

EXIT_FAILED = 1


@click.group("dashboards")
def dashboards_group() -> None:
    """Grafana dashboards as code (dashboards/) and their upload to Grafana."""


@dashboards_group.command("build")
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing; exit 1 when the JSON files differ from the dashboard code.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of the JSON files (default: dashboards/json of this checkout).",
)
def build_command(check: bool, out_dir: Path | None) -> None:
    """Regenerate dashboards/json/<uid>.json from the dashboard code."""
    directory = out_dir or dashboard_build.JSON_DIR
    if check:
        problems = dashboard_build.drift(directory)
        for problem in problems:
            click.echo(problem, err=True)
        if problems:
            click.echo("run: posfleet dashboards build", err=True)
            raise SystemExit(EXIT_FAILED)
        click.echo(f"{directory}: up to date")
        return
    changed = dashboard_build.write(directory)
    for path in changed:
        click.echo(f"wrote {path}")
    if not changed:
        click.echo(f"{directory}: up to date")


def _datasource_urls(values: tuple[str, ...]) -> dict[str, str]:
    urls: dict[str, str] = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or name not in ("prometheus", "influxdb") or not url.startswith(
            ("http://", "https://")
        ):
            raise click.BadParameter(
                f"{value!r}: expected prometheus=URL or influxdb=URL "
                "(URL as Grafana's server reaches it, http:// or https://)",
                param_hint="--datasource-url",
            )
        urls[name] = url
    return urls


@dashboards_group.command("push")
@click.option("--url", required=True, help="Grafana's base URL, e.g. http://grafana:3000.")
@click.option(
    "--token",
    envvar="GRAFANA_TOKEN",
    required=True,
    help="Service account token (Editor or Admin); or set GRAFANA_TOKEN.",
)
@click.option(
    "--datasource-url",
    "datasource_urls",
    multiple=True,
    metavar="NAME=URL",
    help="Also create or update a data source: prometheus=URL and/or influxdb=URL, as "
    "Grafana's server reaches them. Without it, only dashboards are pushed.",
)
@click.option("--influxdb-database", default=INFLUXDB_DATABASE, show_default=True)
@click.option("--influxdb-user", default=None, help="InfluxDB user (1.x) for the data source.")
@click.option("--folder", "folder_title", default="posfleet", show_default=True)
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="Seconds per HTTP request.")
def push_command(
    url: str,
    token: str,
    datasource_urls: tuple[str, ...],
    influxdb_database: str,
    influxdb_user: str | None,
    folder_title: str,
    timeout: float,
) -> None:
    """Upload data sources and dashboards through Grafana's HTTP API (overwrite).

    The InfluxDB password is read from POSFLEET_INFLUXDB__PASSWORD, never from the command
    line.
    """
    from posfleet.dashboards.push import PushError, push

    urls = _datasource_urls(datasource_urls)
    payloads = [
        payload
        for payload in datasource_payloads(
            urls.get("prometheus", ""),
            urls.get("influxdb", ""),
            influxdb_database=influxdb_database,
            influxdb_user=influxdb_user,
            influxdb_password=os.environ.get("POSFLEET_INFLUXDB__PASSWORD") or None,
        )
        if payload["type"] in urls
    ]
    if not token.strip():
        click.echo("--token: empty (give a Grafana service account token)", err=True)
        raise SystemExit(EXIT_INVALID)
    try:
        result = push(url, token.strip(), payloads, folder_title=folder_title, timeout=timeout,
                      say=click.echo)
    except PushError as exc:
        click.echo(f"posfleet dashboards push: {exc}", err=True)
        raise SystemExit(EXIT_FAILED) from None
    click.echo(
        f"pushed {len(result.dashboards)} dashboards and {len(result.datasources)} data "
        f"sources to Grafana {result.grafana_version}"
    )
