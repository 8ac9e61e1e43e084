"""Payment attempts: how each sale ends given the terminal's state, and why.

The outcome follows the first obstacle in the order a real sale meets them: power, the
queued reversal, printer, cashier, card read, PIN entry, battery, certificate, network,
acquirer gateway, issuer. Response codes are ISO 8583 field 39.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from posfleet.simulator.catalog import CARD_RANGES
from posfleet.simulator.faults import Fault, iso
from posfleet.simulator.network import TRANSACTION_BYTES
from posfleet.simulator.paper import receipt_length_m
from posfleet.simulator.terminal import SimTerminal
from posfleet.telemetry import PaperState

Attempt = tuple[dict[str, Any], Fault | None]
"""A transaction event (as JSON-ready data) and the fault that made it fail, if any."""

# Issuer refusals (code, share of sales): insufficient funds, wrong PIN, do not honour,
# expired card, exceeds withdrawal limit.
ISSUER_REFUSALS: tuple[tuple[str, float], ...] = (
    ("51", 0.025), ("55", 0.008), ("05", 0.01), ("54", 0.004), ("61", 0.003),
)  # fmt: skip
_ENTRY_MODES = ("contactless", "chip", "magstripe", "qr")
_ENTRY_WEIGHTS = (0.6, 0.3, 0.03, 0.07)
# Reads that fail for reasons of the card or customer, not the reader: (base rate, error).
_BASE_READ_FAILURE: dict[str, tuple[float, str]] = {
    "chip": (0.008, "card_removed_early"),
    "magstripe": (0.06, "card_read_error"),
    "contactless": (0.015, "contactless_collision"),
    "qr": (0.02, "qr_decode_error"),
}
READ_RETRIES = 2
"""Times a cashier asks for the card again after the reader failed to read it."""
_READER_SLOT = {"chip": 0, "magstripe": 2, "contactless": 4}
_CURRENCY_SCALE = {"CNY": 6.0, "GBP": 0.8}


def _rrn(now: float, stan: int) -> str:
    moment = datetime.fromtimestamp(now, UTC)
    return f"{moment.year % 10}{moment.timetuple().tm_yday:03d}{moment.hour:02d}{stan:06d}"


class SaleBuilder:
    """Fills in the fields every event of one terminal shares."""

    def __init__(self, terminal: SimTerminal, now: float) -> None:
        self.terminal = terminal
        self.now = now

    def event(self, **fields: Any) -> dict[str, Any]:
        terminal = self.terminal
        spec = terminal.spec
        terminal.stan = terminal.stan % 999_999 + 1
        data: dict[str, Any] = {
            "transaction_id": f"{spec.id}-{terminal.sales_total:06d}",
            "terminal_id": spec.id,
            "merchant_id": spec.store.merchant.id,
            "store_id": spec.store.id,
            "occurred_at": iso(self.now),
            "currency": spec.store.region.currency,
            "stan": f"{terminal.stan:06d}",
        }
        data.update({key: value for key, value in fields.items() if value is not None})
        if "host_response_code" in data:
            data["rrn"] = _rrn(self.now, terminal.stan)
        return data


def _network_obstacle(terminal: SimTerminal, now: float) -> tuple[str, Fault | None] | None:
    """Why the acquirer cannot be reached at all, or None."""
    faults = terminal.faults
    for kind in ("link_down", "link_flap", "sim_quota_exhausted"):
        if kind in faults:
            return "network_down", faults[kind]
    dropped = terminal.dropped_link(now)
    if dropped is not None:
        return "network_down", dropped[1]
    uplink = terminal.store.uplink_fault
    if uplink is not None and terminal.spec.interface != "cellular":
        return "host_unreachable", uplink
    return None


def _send_reversal(terminal: SimTerminal, builder: SaleBuilder) -> Attempt | None:
    pending = terminal.pending_reversal
    if pending is None:
        return None
    original, attempts = pending
    rng = terminal.rng
    base = {"amount_minor": 0, "transaction_id": f"{original}-R{attempts + 1}"}
    obstacle = _network_obstacle(terminal, builder.now)
    if obstacle is None and rng.random() < terminal.network.timeout_probability():
        obstacle = ("network_timeout", terminal.network_condition())
    if obstacle is not None:
        if attempts + 1 < 3:
            terminal.pending_reversal = (original, attempts + 1)
            return None  # still queued; the terminal tries again with the next sale
        terminal.pending_reversal = None
        error, fault = obstacle
        event = builder.event(outcome="failed", local_error=error,
                              reversal_state="failed", **base)
        return event, fault
    terminal.pending_reversal = None
    if rng.random() < 0.05:  # the host cannot match it (25: unable to locate record)
        event = builder.event(outcome="failed", host_response_code="25",
                              reversal_state="failed", **base)
        return event, None
    return builder.event(outcome="reversed", host_response_code="00",
                         reversal_state="confirmed", **base), None


def _masked_pan(rng: random.Random) -> str:
    prefix = rng.choices([r for r, _ in CARD_RANGES], [w for _, w in CARD_RANGES])[0]
    middle = 5 if prefix.startswith("37") else 6
    return f"{prefix}{'*' * middle}{rng.randrange(10_000):04d}"


def attempt_sale(terminal: SimTerminal, now: float) -> list[Attempt]:
    """Run one sale on ``terminal`` at ``now``; return the events it produced (a queued
    reversal goes out first), each with the fault that made it fail, if any."""
    if not terminal.powered:
        return []  # the customer goes to another till
    rng = terminal.rng
    spec = terminal.spec
    terminal.sales_total += 1
    builder = SaleBuilder(terminal, now)
    attempts: list[Attempt] = []
    reversal = _send_reversal(terminal, builder)
    if reversal is not None:
        attempts.append(reversal)
    operator = rng.choice(spec.store.operators)
    entry = rng.choices(_ENTRY_MODES, _ENTRY_WEIGHTS)[0]
    if entry == "qr" and not spec.device.qr_camera and spec.driver != "escpos":
        entry = "chip"
    scale = _CURRENCY_SCALE.get(spec.store.region.currency, 1.0)
    amount = int(rng.lognormvariate(7.6, 0.9) * scale)
    card = None if entry == "qr" else _masked_pan(rng)
    common = {"operator_id": operator.id, "amount_minor": amount, "entry_mode": entry,
              "masked_pan": card}

    def failed(error: str, fault: Fault | None, outcome: str = "failed") -> list[Attempt]:
        attempts.append((builder.event(outcome=outcome, local_error=error, **common), fault))
        return attempts

    faults = terminal.faults
    printer = terminal.printer
    if printer is not None:
        if printer.roll.state is PaperState.OUT:
            return failed("printer_paper_out", faults.get("paper_out"))
        for kind in ("paper_jam", "cover_open", "cutter_error"):
            if kind in faults:
                return failed("printer_fault", faults[kind])
    if rng.random() < operator.error_rate:
        return failed("operator_input_error", None)
    base_rate, base_error = _BASE_READ_FAILURE[entry]
    reader_kind = "qr_scanner_degraded" if entry == "qr" else "card_reader_degraded"
    fault_rate = terminal.severity(reader_kind, now)
    draw = rng.random()
    slot = _READER_SLOT.get(entry)
    read_ok = draw >= base_rate + fault_rate * (1 - base_rate)
    failed_reads = 0 if read_ok else 1
    if not read_ok and draw >= base_rate:
        # The terminal asks for the card (or code) again: a worn reader costs retries long
        # before it costs the sale.
        for _ in range(READ_RETRIES):
            if terminal.physics.random() >= fault_rate:
                read_ok = True
                break
            failed_reads += 1
    terminal.reads_done(reader_kind, failed_reads + int(read_ok), now)
    if slot is not None:
        terminal.reader_counts[slot + 1] += failed_reads
        terminal.reader_counts[slot] += int(read_ok)
    else:
        terminal.qr_counts[1] += failed_reads
        terminal.qr_counts[0] += int(read_ok)
    if not read_ok:
        if draw < base_rate:
            return failed(base_error, None)
        error = "qr_decode_error" if entry == "qr" else "card_read_error"
        return failed(error, faults.get(reader_kind))
    if entry == "chip" and rng.random() < terminal.severity("touch_degraded", now):
        return failed("pin_entry_timeout", faults.get("touch_degraded"))
    if "battery_low" in faults:
        return failed("low_battery", faults["battery_low"])
    if "certificate_expired" in faults:
        return failed("tls_error", faults["certificate_expired"])
    obstacle = _network_obstacle(terminal, now)
    if obstacle is not None:
        return failed(obstacle[0], obstacle[1])
    terminal.network.use_data(TRANSACTION_BYTES)
    if rng.random() < terminal.network.timeout_probability():
        # The request may have reached the host: queue a reversal for the next sale.
        terminal.pending_reversal = (f"{spec.id}-{terminal.sales_total:06d}", 0)
        attempts.append((builder.event(outcome="timeout", local_error="network_timeout",
                                       reversal_state="pending", **common),
                         terminal.network_condition()))
        return attempts
    gateway = terminal.store.merchant.gateway_fault
    if gateway is not None:
        code = "91" if rng.random() < 0.6 else "96"
        attempts.append((builder.event(outcome="declined", host_response_code=code, **common),
                         gateway))
        return attempts
    code = "00"
    draw = rng.random()
    for refusal, share in ISSUER_REFUSALS:
        if draw < share:
            code = refusal
            break
        draw -= share
    if code == "55" and entry not in ("chip", "contactless"):
        code = "05"
    approved = code == "00"
    attempts.append((builder.event(outcome="approved" if approved else "declined",
                                   host_response_code=code, **common), None))
    if printer is not None and terminal.powered:
        copies = (2 if rng.random() < 0.5 else 1) if approved else (rng.random() < 0.5)
        for _ in range(int(copies)):
            kinds = printer.print_receipt(
                rng, now, receipt_length_m(rng), terminal.severity("printer_wear", now)
            )
            terminal.printer_faults(kinds, now)
            if kinds:
                break
    if terminal.battery is not None:
        terminal.battery.use(0.05)
    return attempts
