"""A terminal's snapshot summed up for people: a status code, the issues behind it, and each
component's status.

The codes are the vocabulary of the web app (each has a plain-language sentence and advice
in its catalogues) and of its test hooks (``data-status``). Thresholds come from the
``alerting`` section, so the status page and the alert rules agree on what "unstable" means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from posfleet.config.models import AlertingSettings
from posfleet.telemetry import PaperState, StatusSnapshot

ISSUE_CODES: Final = (
    "tampered",
    "printer_fault",
    "cover_open",
    "paper_out",
    "network_down",
    "screen_fault",
    "qr_fault",
    "network_unstable",
    "paper_low",
    "battery_low",
    "certificate_expiring",
)
"""Issue codes, most pressing first; a terminal without any is ``ready``."""
BLOCKING: Final = frozenset(
    {"tampered", "printer_fault", "cover_open", "paper_out", "network_down", "screen_fault"}
)
"""Issues that stop card payments (the terminal is not ready while one holds)."""
READY: Final = "ready"
OFFLINE: Final = "offline"
"""Not an issue code: the web app shows it when no snapshot arrived for a while."""
STATUS_CODES: Final = (READY, OFFLINE, *ISSUE_CODES)

LOW_BATTERY_PERCENT: Final = 15.0


@dataclass(frozen=True, slots=True)
class Issue:
    """One thing wrong with a terminal; ``params`` fill the sentence (minutes, ratios)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params}


@dataclass(frozen=True, slots=True)
class Summary:
    """What the status store keeps of a terminal's latest snapshot."""

    status: str
    ready: bool
    issues: tuple[Issue, ...]
    components: dict[str, str]
    network_quality: str


def _network(snapshot: StatusSnapshot, policy: AlertingSettings) -> tuple[str, dict[str, Any]]:
    network = snapshot.network
    if network is None:
        return "unknown", {}
    if network.link_up is False:
        return "down", {}
    params: dict[str, Any] = {}
    if network.packet_loss_ratio is not None and network.packet_loss_ratio > (
        policy.packet_loss_max_ratio
    ):
        params["packet_loss_percent"] = round(network.packet_loss_ratio * 100)
    if network.acquirer_latency_ms is not None and (
        network.acquirer_latency_ms / 1000 > policy.acquirer_latency_warning_seconds
    ):
        params["latency_seconds"] = round(network.acquirer_latency_ms / 1000, 1)
    if network.signal_dbm is not None and network.signal_dbm < policy.signal_min_dbm:
        params["signal_dbm"] = round(network.signal_dbm)
    if params:
        return "unstable", params
    if network.link_up is None and network.acquirer_latency_ms is None:
        return "unknown", {}
    return "good", {}


def summarise(
    snapshot: StatusSnapshot,
    policy: AlertingSettings,
    paper_seconds_to_empty: float | None = None,
) -> Summary:
    """The summary of ``snapshot``; ``paper_seconds_to_empty`` from the paper forecaster."""
    found: dict[str, Issue] = {}
    components: dict[str, str] = {}

    printer = snapshot.printer
    if printer is None:
        components["printer"] = "unknown"
    else:
        components["printer"] = "ok"
        if printer.cover_open:
            found["cover_open"] = Issue("cover_open")
            components["printer"] = "cover_open"
        # ESC/POS printers report themselves offline while the paper is out or the cover is
        # open: offline is a fault of its own only when neither explains it (else the shop
        # would be told to clear a jam for an empty roll).
        explained = printer.paper is PaperState.OUT or bool(printer.cover_open)
        if (
            (printer.online is False and not explained)
            or printer.paper_jam
            or printer.cutter_error
            or printer.unrecoverable_error
        ):
            fault = (
                "paper_jam" if printer.paper_jam
                else "cutter" if printer.cutter_error
                else "offline" if printer.online is False
                else "error"
            )
            found["printer_fault"] = Issue("printer_fault", {"fault": fault})
            components["printer"] = "fault"
        if printer.paper is PaperState.OUT:
            found["paper_out"] = Issue("paper_out")
            if components["printer"] == "ok":
                components["printer"] = "paper_out"
        elif printer.paper is PaperState.NEAR_END:
            params: dict[str, Any] = {}
            if paper_seconds_to_empty is not None:
                params["minutes"] = max(1, round(paper_seconds_to_empty / 60))
            found["paper_low"] = Issue("paper_low", params)
            if components["printer"] == "ok":
                components["printer"] = "paper_low"

    quality, network_params = _network(snapshot, policy)
    components["network"] = quality
    if quality == "down":
        found["network_down"] = Issue("network_down")
    elif quality == "unstable":
        found["network_unstable"] = Issue("network_unstable", network_params)

    screen = snapshot.screen
    if screen is None:
        components["screen"] = "unknown"
    elif screen.display_ok is False or screen.touch_responsive is False:
        components["screen"] = "fault"
        found["screen_fault"] = Issue(
            "screen_fault", {"fault": "display" if screen.display_ok is False else "touch"}
        )
    else:
        components["screen"] = "ok"

    qr = snapshot.qr_scanner
    if qr is None:
        components["qr_scanner"] = "unknown"
    elif qr.ok is False:
        components["qr_scanner"] = "fault"
        found["qr_fault"] = Issue("qr_fault")
    else:
        components["qr_scanner"] = "ok"

    components["card_reader"] = "unknown" if snapshot.card_reader is None else "ok"

    system = snapshot.system
    if system is None or system.battery_percent is None:
        components["battery"] = "unknown"
    elif system.battery_percent < LOW_BATTERY_PERCENT and not system.charging:
        components["battery"] = "low"
        found["battery_low"] = Issue("battery_low", {"percent": round(system.battery_percent)})
    else:
        components["battery"] = "ok"

    firmware = snapshot.firmware
    if firmware is None:
        components["security"] = "unknown"
    elif firmware.tamper_detected:
        components["security"] = "tampered"
        found["tampered"] = Issue("tampered")
    else:
        components["security"] = "ok"
        expires: datetime | None = firmware.certificate_expires_at
        if expires is not None and expires - snapshot.observed_at < timedelta(
            seconds=policy.certificate_warning_seconds
        ):
            days = max(0, (expires - snapshot.observed_at).days)
            found["certificate_expiring"] = Issue("certificate_expiring", {"days": days})

    issues = tuple(found[code] for code in ISSUE_CODES if code in found)
    return Summary(
        status=issues[0].code if issues else READY,
        ready=not any(issue.code in BLOCKING for issue in issues),
        issues=issues,
        components=components,
        network_quality=quality,
    )
