"""Faults and the ground truth: what went wrong, where, from when to when.

Every fault the model starts (randomly or from a scenario) becomes a :class:`Fault`; every
failed transaction names the fault that caused it, or none when the cause is not a fault
(issuer refusals, cashier mistakes, customers). Tests and evaluations read this to tell
whether a warning came before the first failed payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

# Fault kind -> component it belongs to.
FAULT_COMPONENTS: Final[dict[str, str]] = {
    "paper_out": "printer",
    "paper_jam": "printer",
    "cutter_error": "printer",
    "cover_open": "printer",
    "over_temperature": "printer",
    "paper_low": "printer",
    "printer_wear": "printer",
    "card_reader_degraded": "card_reader",
    "touch_degraded": "screen",
    "qr_scanner_degraded": "qr_scanner",
    "link_down": "network",
    "link_flap": "network",
    "network_degraded": "network",
    "congestion_burst": "network",
    "signal_fading": "network",
    "link_unstable": "network",
    "sim_quota_exhausted": "network",
    "uplink_down": "network",
    "gateway_outage": "acquirer",
    "reboot": "system",
    "battery_low": "system",
    "battery_worn": "system",
    "certificate_expired": "firmware",
}
DEVELOPING: Final = frozenset(
    {"paper_low", "printer_wear", "signal_fading", "link_unstable", "battery_worn"}
)
"""Conditions that are faults in the making: they fail no payment themselves, but the
faults they lead to do (a roll past its near-end mark runs out, a worn mechanism jams and
miscuts, a fading signal drops the link and times requests out, an unstable link flaps, a
battery below 60% of its design capacity dies mid-shift).
They are in the ground truth so that a warning raised during one is not counted as false."""


def iso(at: float) -> str:
    """RFC 3339 UTC time of a simulated instant."""
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Fault:
    """One fault: a terminal's (or a whole store's or merchant's) component not working."""

    id: str
    kind: str
    start: float
    merchant_id: str
    store_id: str | None = None
    terminal_id: str | None = None
    end: float | None = None
    scripted: bool = False
    cause: Fault | None = None
    """The developing fault this one comes from (a worn mechanism's jams): failed payments
    are blamed on the cause, so its consequences make one episode, not one per jam."""

    @property
    def component(self) -> str:
        return FAULT_COMPONENTS[self.kind]

    def record(self) -> dict[str, Any]:
        """The ground-truth line for this fault (``end`` null while it lasts)."""
        return {
            "type": "fault",
            "id": self.id,
            "kind": self.kind,
            "component": self.component,
            "merchant_id": self.merchant_id,
            "store_id": self.store_id,
            "terminal_id": self.terminal_id,
            "start": iso(self.start),
            "end": iso(self.end) if self.end is not None else None,
            "scripted": self.scripted,
            "cause": self.cause.id if self.cause is not None else None,
        }


class FaultLog:
    """Numbers faults and keeps the ground-truth lines until the runner writes them."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self.pending: list[dict[str, Any]] = []
        self.open: dict[str, Fault] = {}

    def start(
        self,
        kind: str,
        at: float,
        merchant_id: str,
        store_id: str | None = None,
        terminal_id: str | None = None,
        *,
        scripted: bool = False,
    ) -> Fault:
        # Numbered per terminal (or store, merchant) so one terminal's faults keep their ids
        # when other terminals join the fleet.
        scope = terminal_id or store_id or merchant_id
        number = self._counts.get(scope, 0) + 1
        self._counts[scope] = number
        fault = Fault(
            f"F-{scope}-{number}", kind, at, merchant_id, store_id, terminal_id,
            scripted=scripted,
        )
        self.open[fault.id] = fault
        return fault

    def end(self, fault: Fault, at: float) -> None:
        fault.end = at
        self.open.pop(fault.id, None)
        self.pending.append(fault.record())

    def failed_transaction(self, event: dict[str, Any], fault: Fault | None) -> None:
        if fault is not None and fault.cause is not None:
            fault = fault.cause
        self.pending.append(
            {
                "type": "failed_transaction",
                "transaction_id": event["transaction_id"],
                "terminal_id": event["terminal_id"],
                "store_id": event["store_id"],
                "merchant_id": event["merchant_id"],
                "occurred_at": event["occurred_at"],
                "outcome": event["outcome"],
                "host_response_code": event.get("host_response_code"),
                "local_error": event.get("local_error"),
                "fault_id": fault.id if fault else None,
                "fault_kind": fault.kind if fault else None,
            }
        )

    def still_open(self) -> list[dict[str, Any]]:
        """Lines for the faults that have not ended (written at shutdown, ``end`` null)."""
        return [fault.record() for fault in sorted(self.open.values(), key=lambda f: f.id)]

    def drain(self) -> list[dict[str, Any]]:
        lines, self.pending = self.pending, []
        return lines
