"""``posfleet reconcile`` and ``posfleet cases`` as an operator runs them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner

from posfleet.alerts.bridge.store import TicketFilter, TicketStore
from posfleet.cli import cli
from posfleet.config import load_config
from posfleet.payments.output import case_engine_from_config
from tests.payments.support import FULL_PAN, Clock, assert_no_pan_in_files, reversal, timeout


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "posfleet.yml"
    path.write_text(
        f"payments:\n  database: {tmp_path / 'cases.sqlite3'}\n"
        f"tickets:\n  database: {tmp_path / 'tickets.sqlite3'}\n"
    )
    return path


async def two_failed_reversals(config_path: Path) -> None:
    engine = case_engine_from_config(load_config(config_path), clock=Clock())
    await engine.publish_transaction(timeout("T-1-000001", stan="000101"))
    await engine.publish_transaction(reversal("T-1-000001", "failed", attempt=3))
    await engine.publish_transaction(timeout("T-1-000002", stan="000102"))
    await engine.publish_transaction(reversal("T-1-000002", "failed", attempt=3))
    await engine.close()


def test_reconcile_then_list_show_and_export(tmp_path: Path) -> None:
    # Synchronous like the command line: the commands run their own event loop.
    config_path = write_config(tmp_path)
    asyncio.run(two_failed_reversals(config_path))
    runner = CliRunner()

    listed = runner.invoke(cli, ["cases", "list", "-c", str(config_path)])
    assert listed.exit_code == 0, listed.output
    case_ids = [line.split()[0] for line in listed.stdout.splitlines()]
    assert len(case_ids) == 2

    settlement = tmp_path / "settlement.csv"
    settlement.write_text(
        "terminal_id,stan,pan,amount,currency,status\n"
        "T-1,000101,476173******0010,12.50,EUR,reversed\n"
        f"T-1,000102,{FULL_PAN},12.50,EUR,reversed\n"
    )
    result = runner.invoke(cli, ["reconcile", str(settlement), "-c", str(config_path)])
    assert result.exit_code == 1, result.exception  # a line was refused
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "settlement.csv: line 3: column 'pan' holds a full card number" in result.stderr
    assert FULL_PAN not in result.output + result.stderr
    assert "1 cases closed" in result.stdout
    # The closed case's ticket was resolved in the ticket store (no bridge URL configured).
    tickets = TicketStore.open(str(tmp_path / "tickets.sqlite3"))
    statuses = sorted(ticket.status.value for ticket in tickets.list_tickets(TicketFilter()))
    tickets.dispose()
    assert statuses == ["open", "resolved"]
    again = runner.invoke(cli, ["reconcile", str(settlement), "-c", str(config_path)])
    assert "0 cases closed" in again.stdout
    assert "1 unchanged" in again.stdout

    still_open = runner.invoke(cli, ["cases", "list", "-c", str(config_path)])
    [line] = still_open.stdout.splitlines()
    case_id = line.split()[0]
    shown = runner.invoke(cli, ["cases", "show", case_id, "-c", str(config_path)])
    assert json.loads(shown.stdout)["sale"]["stan"] == "000102"
    target = tmp_path / "evidence.csv"
    exported = runner.invoke(
        cli, ["cases", "export", case_id, "--format", "csv", "-o", str(target),
              "-c", str(config_path)]
    )
    assert exported.exit_code == 0, exported.output
    assert target.read_text().startswith("case_id,kind,status,terminal_id")
    missing = runner.invoke(cli, ["cases", "show", "pc-000000000000", "-c", str(config_path)])
    assert missing.exit_code == 2
    assert_no_pan_in_files(tmp_path, except_=settlement)
