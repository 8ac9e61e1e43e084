"""The status snapshot: one per terminal per poll, the contract between drivers and outputs.

Every measurement is optional: what a terminal does not report stays ``None`` and is never
replaced by a fake zero. Counters (``*_total``) only grow, except when a device restarts.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, Field, Strict, ValidationInfo, model_validator

from posfleet.telemetry.base import (
    TELEMETRY_SCHEMA_VERSION,
    Counter,
    Flag,
    Identifier,
    Number,
    Ratio,
    TelemetryModel,
    VersionString,
)
from posfleet.telemetry.card_data import SCREENED_CONTEXT, find_card_data


class PaperState(StrEnum):
    """Receipt paper as the printer's sensors see it (ESC/POS DLE EOT 4)."""

    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"


class NetworkInterface(StrEnum):
    """The link the terminal uses to reach the acquirer."""

    ETHERNET = "ethernet"
    WIFI = "wifi"
    CELLULAR = "cellular"


class PrinterStatus(TelemetryModel):
    """Receipt printer: the ESC/POS real-time status bytes plus the printer's counters."""

    online: Flag | None = None
    """The printer answers and reports itself online (DLE EOT 1, bit 3 clear)."""
    paper: PaperState | None = None
    """Paper roll: ok, near_end (near-end sensor tripped) or out (paper end sensor)."""
    cover_open: Flag | None = None
    """The roll cover is open; nothing prints until it is closed."""
    paper_jam: Flag | None = None
    """Paper is jammed in the mechanism."""
    cutter_error: Flag | None = None
    """The autocutter failed (ESC/POS: autocutter error)."""
    unrecoverable_error: Flag | None = None
    """An error that needs a power cycle or a technician (ESC/POS: unrecoverable error)."""
    recoverable_error: Flag | None = None
    """An error that clears by itself, such as head over-temperature or a brief fault."""
    over_temperature: Flag | None = None
    """The print head is too hot and printing is paused."""
    receipt_lines_printed_total: Counter | None = None
    """Lines printed since the counter was last reset."""
    paper_cuts_total: Counter | None = None
    """Cuts the autocutter has made."""
    failed_cuts_total: Counter | None = None
    """Cuts that failed."""
    faults_total: Counter | None = None
    """Faults of any kind the printer has recorded."""


class ScreenStatus(TelemetryModel):
    """Display and touch panel."""

    display_ok: Flag | None = None
    """The display works (self-test or backlight and panel report no fault)."""
    touch_responsive: Flag | None = None
    """The touch panel answers touches and its controller reports no fault."""
    touch_errors_total: Counter | None = None
    """Touch controller errors: missed, ghost or rejected touches, controller resets."""


class CardReaderStatus(TelemetryModel):
    """Card reader, counted per interface. Failed reads include cards the reader gave up on."""

    chip_reads_ok_total: Counter | None = None
    """Successful chip (EMV contact) card reads."""
    chip_reads_failed_total: Counter | None = None
    """Failed chip card reads (no ATR, communication error, card removed too early)."""
    magstripe_reads_ok_total: Counter | None = None
    """Successful magnetic-stripe swipes."""
    magstripe_reads_failed_total: Counter | None = None
    """Failed magnetic-stripe swipes (bad swipe, unreadable track)."""
    contactless_reads_ok_total: Counter | None = None
    """Successful contactless (NFC) card or phone reads."""
    contactless_reads_failed_total: Counter | None = None
    """Failed contactless reads (collision, timeout, card removed too early)."""


class QrScannerStatus(TelemetryModel):
    """Camera that scans customers' payment QR codes."""

    ok: Flag | None = None
    """The camera is present and reports no fault."""
    decodes_ok_total: Counter | None = None
    """QR codes decoded."""
    decode_failures_total: Counter | None = None
    """Scans that did not decode (blur, glare, damaged code, camera fault)."""


class NetworkStatus(TelemetryModel):
    """The terminal's path to the acquirer host."""

    interface: NetworkInterface | None = None
    """The active link: ethernet, wifi or cellular."""
    link_up: Flag | None = None
    """The link layer is up (cable, Wi-Fi association or cellular attach)."""
    signal_dbm: Annotated[float, Strict(), Field(ge=-150.0, le=0.0)] | None = None
    """Received signal strength for wifi or cellular, in dBm (RSSI or RSRP)."""
    acquirer_latency_ms: Annotated[float, Strict(), Field(ge=0.0)] | None = None
    """Round-trip time to the acquirer host, in milliseconds."""
    packet_loss_ratio: Ratio | None = None
    """Share of probes to the acquirer host lost, from 0 to 1."""
    dns_ok: Flag | None = None
    """The acquirer host name resolves."""
    tls_ok: Flag | None = None
    """A TLS handshake with the acquirer host succeeds and its certificate verifies."""
    link_flaps_total: Counter | None = None
    """Times the link went down and up again."""
    sim_data_remaining_bytes: Counter | None = None
    """Cellular only: data left on the SIM's plan before it is throttled or cut, in bytes."""


class FirmwareStatus(TelemetryModel):
    """Software versions and security state."""

    os_version: VersionString | None = None
    """Operating system or platform firmware version."""
    payment_app_version: VersionString | None = None
    """Version of the payment application the acquirer certified."""
    emv_kernel_version: VersionString | None = None
    """Version of the EMV kernel (contact and contactless)."""
    security_patch_date: date | None = None
    """Date of the latest security patch installed (ISO 8601 date)."""
    tamper_detected: Flag | None = None
    """The secure element reports tampering: the terminal must be taken out of service."""
    certificate_expires_at: AwareDatetime | None = None
    """When the terminal's TLS client certificate expires."""
    key_expires_at: AwareDatetime | None = None
    """When the payment keys (e.g. DUKPT or master keys) must be renewed."""
    clock_skew_seconds: Number | None = None
    """Terminal clock minus reference clock, in seconds (negative when it runs behind)."""


class SystemStatus(TelemetryModel):
    """Power and system resources."""

    battery_percent: Annotated[float, Strict(), Field(ge=0.0, le=100.0)] | None = None
    """Battery charge, 0 to 100 percent. Absent on mains-only terminals."""
    charging: Flag | None = None
    """The battery is charging (on the base or a cable)."""
    battery_health_ratio: Ratio | None = None
    """Full-charge capacity relative to design capacity, from 0 to 1; below 0.6 is worn."""
    uptime_seconds: Annotated[float, Strict(), Field(ge=0.0)] | None = None
    """Seconds since the terminal last started."""
    reboots_total: Counter | None = None
    """Restarts the terminal has recorded."""
    storage_used_bytes: Counter | None = None
    """Storage in use, in bytes."""
    storage_total_bytes: Counter | None = None
    """Storage size, in bytes."""
    memory_used_bytes: Counter | None = None
    """Memory in use, in bytes."""
    memory_total_bytes: Counter | None = None
    """Memory size, in bytes."""

    @model_validator(mode="after")
    def _used_within_total(self) -> Self:
        for resource in ("storage", "memory"):
            used = getattr(self, f"{resource}_used_bytes")
            total = getattr(self, f"{resource}_total_bytes")
            if used is not None and total is not None and used > total:
                raise ValueError(f"{resource}_used_bytes is larger than {resource}_total_bytes")
        return self


class StatusSnapshot(TelemetryModel):
    """Health of one terminal at one moment, as one poll or push observed it."""

    schema_version: Literal[1] = TELEMETRY_SCHEMA_VERSION
    """Major version of this contract; a message of another version is refused."""
    terminal_id: Identifier
    """The terminal's id, unique in the fleet (as in the inventory)."""
    merchant_id: Identifier
    """The merchant that owns the store."""
    store_id: Identifier
    """The store where the terminal stands, unique in the fleet."""
    region: Identifier | None = None
    """The region the store belongs to, for routing and aggregation."""
    serial: VersionString | None = None
    """Manufacturer's serial number."""
    model: VersionString | None = None
    """Terminal model, e.g. A920."""
    vendor: VersionString | None = None
    """Terminal manufacturer, e.g. PAX."""
    observed_at: AwareDatetime
    """When the status was observed, with a time zone (RFC 3339)."""
    collector_id: Identifier | None = None
    """The collector that polled it; absent when the terminal pushed directly."""
    printer: PrinterStatus | None = None
    """Receipt printer; absent when the terminal has none or it was not polled."""
    screen: ScreenStatus | None = None
    """Display and touch panel."""
    card_reader: CardReaderStatus | None = None
    """Card reader counters."""
    qr_scanner: QrScannerStatus | None = None
    """QR code camera."""
    network: NetworkStatus | None = None
    """Network path to the acquirer."""
    firmware: FirmwareStatus | None = None
    """Software versions and security state."""
    system: SystemStatus | None = None
    """Power and system resources."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_card_data(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context and info.context.get(SCREENED_CONTEXT):
            return data
        problem = find_card_data(data, check_pans=False)
        if problem:
            raise ValueError(problem)
        return data
