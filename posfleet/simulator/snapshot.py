"""Status snapshots: what each kind of terminal reports about itself.

An ESC/POS printer reports only its printer part; an Android terminal reports everything
it has (a printer only if it has one, a battery only if it is a handheld). Snapshots are
validated through the telemetry models, the contract's single source.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from posfleet.simulator.faults import iso
from posfleet.simulator.terminal import SimTerminal
from posfleet.telemetry import PaperState, PrinterStatus, StatusSnapshot


def printer_status(terminal: SimTerminal, now: float) -> PrinterStatus | None:
    """The printer part as the printer's status bytes and counters show it."""
    printer = terminal.printer
    if printer is None:
        return None
    faults = terminal.faults
    over_temperature = "over_temperature" in faults
    blocked = any(kind in faults for kind in ("cover_open", "paper_jam", "cutter_error"))
    paper = printer.roll.state
    powered = terminal.powered or terminal.spec.driver == "escpos"
    return PrinterStatus(
        online=powered and not (blocked or over_temperature or paper is PaperState.OUT),
        paper=paper,
        cover_open="cover_open" in faults,
        paper_jam="paper_jam" in faults,
        cutter_error="cutter_error" in faults,
        unrecoverable_error=False,
        recoverable_error=over_temperature,
        over_temperature=over_temperature,
        receipt_lines_printed_total=printer.lines_total,
        paper_cuts_total=printer.paper_cuts_total,
        failed_cuts_total=printer.failed_cuts_total,
        faults_total=printer.faults_total,
    )


def _network(terminal: SimTerminal, now: float) -> dict[str, Any]:
    link = terminal.network
    faults = terminal.faults
    link_up = not any(kind in faults for kind in ("link_down", "link_flap")) and (
        terminal.dropped_link(now) is None
    )
    uplink_lost = terminal.store.uplink_fault is not None and link.interface != "cellular"
    reachable = link_up and not uplink_lost and "sim_quota_exhausted" not in faults
    data: dict[str, Any] = {
        "interface": link.interface,
        "link_up": link_up,
        "dns_ok": reachable,
        "tls_ok": reachable and "certificate_expired" not in faults,
        "link_flaps_total": link.link_flaps_total,
        "packet_loss_ratio": round(link.loss_ratio, 4) if reachable else 1.0,
    }
    if reachable:
        data["acquirer_latency_ms"] = round(link.latency_ms, 1)
    if link.signal_dbm is not None and link_up:
        data["signal_dbm"] = round(link.signal_dbm, 1)
    if link.sim_remaining_bytes is not None:
        data["sim_data_remaining_bytes"] = link.sim_remaining_bytes
    return data


def _card_reader(terminal: SimTerminal) -> dict[str, Any]:
    counts = terminal.reader_counts
    names = ("chip", "magstripe", "contactless")
    data: dict[str, Any] = {}
    for index, name in enumerate(names):
        data[f"{name}_reads_ok_total"] = counts[2 * index]
        data[f"{name}_reads_failed_total"] = counts[2 * index + 1]
    return data


def build_snapshot(terminal: SimTerminal, now: float) -> StatusSnapshot:
    """The snapshot ``terminal`` reports at ``now`` (the caller checks it is powered)."""
    spec = terminal.spec
    data: dict[str, Any] = {
        "terminal_id": spec.id,
        "merchant_id": spec.store.merchant.id,
        "store_id": spec.store.id,
        "region": spec.store.region.id,
        "serial": spec.serial,
        "model": spec.device.model,
        "vendor": spec.device.vendor,
        "observed_at": datetime.fromtimestamp(now, UTC),
    }
    printer = printer_status(terminal, now)
    if printer is not None:
        data["printer"] = printer
    if spec.driver == "escpos":
        return StatusSnapshot.model_validate(data)
    touch = terminal.severity("touch_degraded", now)
    data["screen"] = {
        "display_ok": True,
        "touch_responsive": touch < 1.0,
        "touch_errors_total": terminal.touch_errors_total,
    }
    data["card_reader"] = _card_reader(terminal)
    if spec.device.qr_camera:
        data["qr_scanner"] = {
            "ok": terminal.severity("qr_scanner_degraded", now) < 1.0,
            "decodes_ok_total": terminal.qr_counts[0],
            "decode_failures_total": terminal.qr_counts[1],
        }
    data["network"] = _network(terminal, now)
    data["firmware"] = {
        "os_version": spec.device.os_versions[0],
        "payment_app_version": spec.payment_app_version,
        "emv_kernel_version": "EMV L2 4.3c",
        "tamper_detected": False,
        "certificate_expires_at": iso(terminal.certificate_expires_at),
        "clock_skew_seconds": round(terminal.clock_skew(now), 3),
    }
    system: dict[str, Any] = {
        "uptime_seconds": max(0.0, round(now - terminal.boot_at, 1)),
        "reboots_total": terminal.reboots_total,
        "storage_used_bytes": terminal.storage_used,
        "storage_total_bytes": terminal.storage_total,
        "memory_used_bytes": terminal.memory_used,
        "memory_total_bytes": terminal.memory_total,
    }
    battery = terminal.battery
    if battery is not None:
        system["battery_percent"] = round(battery.percent, 1)
        system["charging"] = battery.charging
        system["battery_health_ratio"] = round(battery.health_ratio, 3)
    data["system"] = system
    return StatusSnapshot.model_validate(data)
