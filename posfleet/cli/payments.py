"""``posfleet reconcile`` and ``posfleet cases``: charged-but-failed cases from the shell."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from posfleet.cli.config import EXIT_INVALID, load_or_exit
from posfleet.config.models import PosfleetConfig

if TYPE_CHECKING:
    from posfleet.payments.model import Case
    from posfleet.payments.store import CaseStore

EXIT_ROWS_REFUSED = 1

_CONFIG_OPTION = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Configuration file (section payments: database, reconcile columns, tickets).",
)


def _store(config: PosfleetConfig) -> CaseStore:
    # Imported here so that other posfleet commands start without SQLAlchemy.
    from posfleet.payments.store import CaseStore

    return CaseStore.open(config.payments.database)


async def _resolve_tickets(config: PosfleetConfig) -> int:
    """Deliver the tickets of cases the import closed; the number still due."""
    from posfleet.payments.cases import CaseEngine
    from posfleet.payments.output import classifier_from_config, ticket_channel_from_config

    channel = ticket_channel_from_config(config)
    engine = CaseEngine(
        config.payments, _store(config), classifier_from_config(config), tickets=channel
    )
    try:
        await engine.deliver_due_tickets()
    finally:
        await channel.close()
        engine.store.dispose()
    return engine.stats.tickets_due


@click.command("reconcile")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@_CONFIG_OPTION
def reconcile_command(file: Path, config_path: Path) -> None:
    """Close cases from an acquirer settlement or reconciliation CSV FILE.

    Rows that do not parse are listed with their line numbers and skipped (exit code 1);
    importing the same file again changes nothing.
    """
    from posfleet.payments.reconcile import FileRefused, read_rows, reconcile

    config = load_or_exit(config_path)
    store = _store(config)
    try:
        with file.open(encoding="utf-8-sig", newline="") as stream:
            report = reconcile(
                store, read_rows(stream, config.payments.reconcile), file.name, datetime.now(UTC)
            )
    except FileRefused as exc:
        click.echo(f"{file}: {exc}; nothing imported", err=True)
        raise SystemExit(EXIT_INVALID) from None
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"{file}: cannot read: {getattr(exc, 'strerror', None) or exc}", err=True)
        raise SystemExit(EXIT_INVALID) from None
    finally:
        store.dispose()
    for error in report.errors:
        click.echo(f"{file}: {error}", err=True)
    for case_id in report.closed:
        click.echo(f"closed {case_id}")
    for case_id in report.noted:
        click.echo(f"noted settlement on {case_id} (still open: refund needed)")
    click.echo(f"{file}: {report.summary()}")
    if report.closed:
        due = asyncio.run(_resolve_tickets(config))
        if due:
            click.echo(f"{due} ticket(s) not delivered yet; the case engine retries them", err=True)
    if report.errors:
        raise SystemExit(EXIT_ROWS_REFUSED)


@click.group("cases")
def cases_group() -> None:
    """Charged-but-failed cases: customers possibly charged for sales shown as failed."""


@cases_group.command("list")
@_CONFIG_OPTION
@click.option(
    "--status", type=click.Choice(["open", "closed", "all"]), default="open", show_default=True
)
@click.option("--store", "store_id", default=None, help="Only this store's cases.")
def list_command(config_path: Path, status: str, store_id: str | None) -> None:
    """List cases, oldest first."""
    from posfleet.payments.model import CaseStatus
    from posfleet.payments.tickets import money

    config = load_or_exit(config_path)
    store = _store(config)
    try:
        cases = store.list_cases(
            status=None if status == "all" else CaseStatus(status), store_id=store_id
        )
    finally:
        store.dispose()
    for case in cases:
        sale = case.sale
        click.echo(
            f"{case.case_id}  {case.status.value:6}  {case.kind.value:22}  "
            f"{sale.store_id}/{sale.terminal_id}  {sale.occurred_at:%Y-%m-%d %H:%M}  "
            f"{money(sale.amount_minor, sale.currency):>14}  {sale.transaction_id}"
        )
    click.echo(f"{len(cases)} case(s)", err=True)


def _get_case(config_path: Path, case_id: str) -> Case:
    config = load_or_exit(config_path)
    store = _store(config)
    try:
        case = store.get(case_id)
    finally:
        store.dispose()
    if case is None:
        click.echo(f"no case {case_id}", err=True)
        raise SystemExit(EXIT_INVALID)
    return case


@cases_group.command("show")
@click.argument("case_id")
@_CONFIG_OPTION
def show_command(case_id: str, config_path: Path) -> None:
    """Show one case with its history (JSON)."""
    from posfleet.payments.evidence import evidence_json

    click.echo(evidence_json(_get_case(config_path, case_id)), nl=False)


@cases_group.command("export")
@click.argument("case_id")
@_CONFIG_OPTION
@click.option(
    "--format", "output_format", type=click.Choice(["json", "csv"]), default="json",
    show_default=True,
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="File to write (default: standard output).",
)
def export_command(
    case_id: str, config_path: Path, output_format: str, output: Path | None
) -> None:
    """Export one case's evidence for the customer's complaint to the bank."""
    from posfleet.payments.evidence import evidence_csv, evidence_json

    case = _get_case(config_path, case_id)
    text = evidence_json(case) if output_format == "json" else evidence_csv(case)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
