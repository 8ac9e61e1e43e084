"""The ``posfleet`` command line: one group per component, added as components land."""

from __future__ import annotations

import click

from posfleet import __version__
from posfleet.cli.collect import collect
from posfleet.cli.config import config_group
from posfleet.cli.demo import demo
from posfleet.cli.ingest import ingest
from posfleet.cli.payments import cases_group, reconcile_command
from posfleet.cli.schema import schema_group
from posfleet.cli.simulate import simulate
from posfleet.cli.tickets import tickets_group
from posfleet.logs import configure_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posfleet")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines for people (text) or for log shippers (json, one object per line).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
)
def cli(log_format: str, log_level: str) -> None:
    """posfleet: health monitor for fleets of card-payment terminals."""
    configure_logging("json" if log_format == "json" else "text", log_level)


cli.add_command(collect)
cli.add_command(config_group)
cli.add_command(schema_group)
cli.add_command(demo)
cli.add_command(ingest)
cli.add_command(simulate)
cli.add_command(tickets_group)
cli.add_command(reconcile_command)
cli.add_command(cases_group)


def main() -> None:
    cli(prog_name="posfleet")
