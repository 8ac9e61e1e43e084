"""``posfleet schema``: regenerate the published telemetry contract."""

from __future__ import annotations

from pathlib import Path

import click

from posfleet.published import export


@click.group("schema")
def schema_group() -> None:
    """The telemetry contract's JSON Schema and field guide."""


@schema_group.command("export")
@click.argument("docs_dir", type=click.Path(path_type=Path, file_okay=False), default="docs")
def export_command(docs_dir: Path) -> None:
    """Write the JSON Schemas (telemetry, config) and telemetry.md into DOCS_DIR (default: docs)."""
    for path in export(docs_dir):
        click.echo(f"wrote {path}")
