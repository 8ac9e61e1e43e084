"""The demo's score: which failed payments came after a ticket had warned about their fault.

The simulator's ground truth (``ground-truth.jsonl``) names the fault behind every failed
payment; the ticket bridge says when each ticket opened. A failed payment counts as
*prevented* (a technician had been sent before it happened) when a ticket for the same
terminal (or its whole store) and the same component opened before it, in simulated time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from posfleet.simulator.faults import FAULT_COMPONENTS

# The simulator's component names -> the ``component`` labels of the alert rules that
# warn about them (alerts/*.yml).
ALERT_COMPONENTS: dict[str, frozenset[str]] = {
    "printer": frozenset({"printer"}),
    "card_reader": frozenset({"card_reader"}),
    "screen": frozenset({"screen"}),
    "qr_scanner": frozenset({"qr_scanner"}),
    "network": frozenset({"network", "store"}),
    "acquirer": frozenset({"gateway", "payments_network"}),
    "system": frozenset({"terminal", "battery", "os"}),
    "firmware": frozenset({"certificate", "payment_app", "firmware"}),
}


def instant(text: str) -> float:
    """Unix time of an RFC 3339 stamp (``...Z`` or with an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed payment the ground truth blames on a fault."""

    terminal: str
    store: str
    at: float
    """Simulated time."""
    fault_kind: str
    component: str


@dataclass(frozen=True, slots=True)
class OpenedTicket:
    ticket_id: int
    alertname: str
    terminal: str | None
    store: str | None
    component: str | None
    opened_at: float
    """Simulated time."""


@dataclass
class GroundTruthReader:
    """Follows a growing ground-truth file (the simulator appends while it runs)."""

    path: Path
    failures: list[Failure] = field(default_factory=list)
    unexplained_failures: int = 0
    """Failed payments with no fault behind them (operator errors, declines, ...)."""
    _offset: int = 0

    def poll(self) -> None:
        """Read the lines added since the last call (a partial last line waits)."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        self._offset += end + 1
        for raw in chunk[: end + 1].splitlines():
            if raw.strip():
                self._take(json.loads(raw))

    def _take(self, line: dict[str, Any]) -> None:
        if line.get("type") != "failed_transaction":
            return
        kind = line.get("fault_kind")
        if not kind:
            self.unexplained_failures += 1
            return
        self.failures.append(
            Failure(
                terminal=line["terminal_id"],
                store=line["store_id"],
                at=instant(line["occurred_at"]),
                fault_kind=kind,
                component=FAULT_COMPONENTS.get(kind, kind),
            )
        )


def warned(failure: Failure, tickets: Iterable[OpenedTicket]) -> OpenedTicket | None:
    """The earliest ticket that opened before ``failure`` about its terminal (or store) and
    component, or None."""
    components = ALERT_COMPONENTS.get(failure.component, frozenset({failure.component}))
    candidates = [
        ticket
        for ticket in tickets
        if ticket.component in components
        and ticket.opened_at <= failure.at
        and (
            ticket.terminal == failure.terminal
            or (ticket.terminal is None and ticket.store == failure.store)
        )
    ]
    return min(candidates, key=lambda ticket: ticket.opened_at, default=None)


@dataclass(frozen=True, slots=True)
class Score:
    tickets: int
    fault_failures: int
    prevented: int
    first_warned: tuple[Failure, OpenedTicket] | None
    """The earliest failure whose ticket had opened before it, with that ticket."""


def score(failures: Sequence[Failure], tickets: Sequence[OpenedTicket]) -> Score:
    prevented = 0
    first: tuple[Failure, OpenedTicket] | None = None
    for failure in sorted(failures, key=lambda f: f.at):
        ticket = warned(failure, tickets)
        if ticket is not None:
            prevented += 1
            if first is None:
                first = (failure, ticket)
    return Score(len(tickets), len(failures), prevented, first)


def opened_tickets(
    listing: Sequence[dict[str, Any]], to_simulated: Callable[[float], float]
) -> list[OpenedTicket]:
    """Tickets of the bridge's ``/api/v1/tickets`` answer, opening times made simulated."""
    return [
        OpenedTicket(
            ticket_id=int(ticket["id"]),
            alertname=str(ticket["alertname"]),
            terminal=ticket.get("terminal"),
            store=ticket.get("store"),
            component=ticket.get("component"),
            opened_at=to_simulated(instant(ticket["opened_at"])),
        )
        for ticket in listing
    ]
