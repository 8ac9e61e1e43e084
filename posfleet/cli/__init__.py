"""The ``posfleet`` command line: one group per component, added as components land."""

from __future__ import annotations

import importlib
from typing import Any

import click

from posfleet import __version__
from posfleet.logs import configure_logging

# Each command's module is imported only when that command runs: together they pull in
# FastAPI, SQLAlchemy, the exporters and the simulator, several seconds that `posfleet
# --version` or a service's start-up should not pay.
COMMANDS: dict[str, str] = {
    "backtest": "posfleet.cli.backtest:backtest_group",
    "cases": "posfleet.cli.payments:cases_group",
    "collect": "posfleet.cli.collect:collect",
    "config": "posfleet.cli.config:config_group",
    "dashboards": "posfleet.cli.dashboards:dashboards_group",
    "demo": "posfleet.cli.demo:demo",
    "ingest": "posfleet.cli.ingest:ingest",
    "reconcile": "posfleet.cli.payments:reconcile_command",
    "schema": "posfleet.cli.schema:schema_group",
    "simulate": "posfleet.cli.simulate:simulate",
    "stack": "posfleet.cli.stack:stack_group",
    "tickets": "posfleet.cli.tickets:tickets_group",
    "web": "posfleet.cli.web:web_group",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's documented pattern)."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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


def main() -> None:
    cli(prog_name="posfleet")
