"""``posfleet demo``: the main job, as far as it exists."""

from __future__ import annotations

from pathlib import Path

import click

from posfleet.cli.config import load_or_exit, summary


@click.command()
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=Path("deploy/fleet.example.yml"),
    show_default=True,
    help="Fleet configuration to run.",
)
def demo(config_path: Path) -> None:
    """Check the example fleet and show what posfleet would watch."""
    config = load_or_exit(config_path)
    click.echo(f"Fleet in {config_path}: {summary(config)}")
    for store, terminal in config.terminals():
        click.echo(f"  {store.region:<8} {store.id:<8} {terminal.id:<10} via {terminal.driver}")
