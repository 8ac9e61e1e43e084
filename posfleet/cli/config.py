"""``posfleet config``: check configuration files and print their schema."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from posfleet.config import ConfigError, PosfleetConfig, load_config

EXIT_INVALID = 2


def load_or_exit(path: Path) -> PosfleetConfig:
    """The validated config, or every problem printed to stderr and exit code 2."""
    try:
        return load_config(path)
    except ConfigError as exc:
        for message in exc.messages():
            click.echo(message, err=True)
        count = len(exc.errors)
        click.echo(f"{path}: {count} problem{'s' if count != 1 else ''} found", err=True)
        raise SystemExit(EXIT_INVALID) from None


def summary(config: PosfleetConfig) -> str:
    terminals = config.terminals()
    drivers = Counter(terminal.driver for _, terminal in terminals)
    by_driver = ", ".join(f"{name} {count}" for name, count in sorted(drivers.items()))
    regions = sorted({store.region for store in config.stores})
    return (
        f"{len(config.merchants)} merchants, {len(config.stores)} stores in "
        f"{len(regions)} regions, {len(terminals)} terminals"
        + (f" ({by_driver})" if by_driver else "")
    )


@click.group("config")
def config_group() -> None:
    """Check configuration files."""


@config_group.command("check")
@click.argument("file", type=click.Path(path_type=Path))
def check(file: Path) -> None:
    """Validate FILE and print every problem with its path and line (exit code 2)."""
    config = load_or_exit(file)
    click.echo(f"{file}: OK: {summary(config)}")


@config_group.command("schema")
def schema() -> None:
    """Print the JSON Schema of the configuration file (for editors and CI checks)."""
    click.echo(json.dumps(PosfleetConfig.model_json_schema(), indent=2))
