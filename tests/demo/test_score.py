"""The demo's score: failed payments that came after a ticket about their fault."""

from __future__ import annotations

import json
from pathlib import Path

from posfleet.demo.score import GroundTruthReader, OpenedTicket, opened_tickets, score


def _failure(terminal: str, at: str, kind: str | None) -> str:
    return json.dumps({
        "type": "failed_transaction", "transaction_id": "x", "terminal_id": terminal,
        "store_id": "S-001", "merchant_id": "M-01", "occurred_at": at, "outcome": "failed",
        "fault_id": "F-1" if kind else None, "fault_kind": kind,
    })


def test_failures_after_a_ticket_for_their_terminal_and_component_count_as_prevented(
    tmp_path: Path,
) -> None:
    truth = tmp_path / "truth.jsonl"
    truth.write_text(
        "\n".join([
            _failure("T-0001", "2026-11-25T11:00:00Z", "paper_out"),  # before the ticket
            _failure("T-0001", "2026-11-25T11:20:00Z", "paper_out"),  # after it
            _failure("T-0002", "2026-11-25T11:20:00Z", "paper_out"),  # other terminal
            _failure("T-0001", "2026-11-25T11:25:00Z", "link_down"),  # other component
            _failure("T-0001", "2026-11-25T11:30:00Z", None),  # no fault behind it
        ]) + "\n" + '{"type": "fault", "kind": "paper_o'  # a line still being written
    )
    reader = GroundTruthReader(truth)
    reader.poll()
    assert len(reader.failures) == 4
    assert reader.unexplained_failures == 1

    listing = [{"id": 7, "alertname": "PrinterPaperRunningOut", "terminal": "T-0001",
                "store": "S-001", "component": "printer", "opened_at": "2026-11-25T01:00:00Z"}]
    # Real 01:00 is simulated 11:10 on this time map.
    tickets = opened_tickets(listing, lambda wall: wall + 10 * 3600 + 600)
    assert tickets == [OpenedTicket(7, "PrinterPaperRunningOut", "T-0001", "S-001", "printer",
                                    tickets[0].opened_at)]
    result = score(reader.failures, tickets)
    assert result.tickets == 1
    assert result.fault_failures == 4
    assert result.prevented == 1
    assert result.first_warned is not None
    assert result.first_warned[0].terminal == "T-0001"
    assert result.first_warned[1].ticket_id == 7

    with truth.open("a") as handle:
        handle.write('ut"}\n' + _failure("T-0001", "2026-11-25T11:40:00Z", "paper_out") + "\n")
    reader.poll()
    assert score(reader.failures, tickets).prevented == 2
