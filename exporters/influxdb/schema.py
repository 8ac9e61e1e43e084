"""The InfluxDB schema: which measurement, tag and field each telemetry value becomes.

This table is a public contract like the telemetry itself (documented in
``docs/influxdb-schema.md``): dashboards and queries depend on it, so a name or type here
never changes within a schema version. A test checks that every telemetry field is either
mapped here or listed as deliberately left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Kind(StrEnum):
    """How a value is written in line protocol."""

    BOOL = "boolean"
    """``true`` / ``false``."""
    INT = "integer"
    """Signed 64-bit integer with the ``i`` suffix (counters, byte sizes)."""
    FLOAT = "float"
    """Decimal number (always float, even when the terminal sent a whole number)."""
    STRING = "string"
    """Double-quoted string (versions, serials, enums)."""
    TIME = "integer (Unix seconds)"
    """A date-time as integer seconds since 1970-01-01 UTC, so it can be compared with
    ``now()`` arithmetic; a date (no time) is midnight UTC of that day."""


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measurement: the snapshot component it comes from and its fields in order."""

    name: str
    component: str
    """Attribute of StatusSnapshot holding the values ("" for the snapshot itself)."""
    fields: tuple[tuple[str, Kind], ...]


IDENTITY_TAGS: Final = ("merchant", "region", "store", "terminal")
"""Tags on every status measurement, in the sorted order they are written."""

B, N, F, S, T = Kind.BOOL, Kind.INT, Kind.FLOAT, Kind.STRING, Kind.TIME

TERMINAL: Final = Measurement(
    "posfleet_terminal",
    "",
    (
        ("reported", B),
        ("serial", S),
        ("model", S),
        ("vendor", S),
        ("collector_id", S),
    ),
)
"""One point per snapshot: ``reported=true`` (a snapshot arrived) plus the identity that is
too variable for tags."""

COMPONENTS: Final = (
    Measurement(
        "posfleet_printer",
        "printer",
        (
            ("online", B),
            ("paper", S),
            ("cover_open", B),
            ("paper_jam", B),
            ("cutter_error", B),
            ("unrecoverable_error", B),
            ("recoverable_error", B),
            ("over_temperature", B),
            ("receipt_lines_printed_total", N),
            ("paper_cuts_total", N),
            ("failed_cuts_total", N),
            ("faults_total", N),
        ),
    ),
    Measurement(
        "posfleet_screen",
        "screen",
        (("display_ok", B), ("touch_responsive", B), ("touch_errors_total", N)),
    ),
    Measurement(
        "posfleet_card_reader",
        "card_reader",
        (
            ("chip_reads_ok_total", N),
            ("chip_reads_failed_total", N),
            ("magstripe_reads_ok_total", N),
            ("magstripe_reads_failed_total", N),
            ("contactless_reads_ok_total", N),
            ("contactless_reads_failed_total", N),
        ),
    ),
    Measurement(
        "posfleet_qr_scanner",
        "qr_scanner",
        (("ok", B), ("decodes_ok_total", N), ("decode_failures_total", N)),
    ),
    Measurement(
        "posfleet_network",
        "network",
        (
            ("interface", S),
            ("link_up", B),
            ("signal_dbm", F),
            ("acquirer_latency_ms", F),
            ("packet_loss_ratio", F),
            ("dns_ok", B),
            ("tls_ok", B),
            ("link_flaps_total", N),
            ("sim_data_remaining_bytes", N),
        ),
    ),
    Measurement(
        "posfleet_firmware",
        "firmware",
        (
            ("os_version", S),
            ("payment_app_version", S),
            ("emv_kernel_version", S),
            ("security_patch_date", T),
            ("tamper_detected", B),
            ("certificate_expires_at", T),
            ("key_expires_at", T),
            ("clock_skew_seconds", F),
        ),
    ),
    Measurement(
        "posfleet_system",
        "system",
        (
            ("battery_percent", F),
            ("charging", B),
            ("battery_health_ratio", F),
            ("uptime_seconds", F),
            ("reboots_total", N),
            ("storage_used_bytes", N),
            ("storage_total_bytes", N),
            ("memory_used_bytes", N),
            ("memory_total_bytes", N),
        ),
    ),
)

TRANSACTION_NAME: Final = "posfleet_transaction"
TRANSACTION_TAGS: Final = (
    ("local_error", "local_error"),
    ("merchant", "merchant_id"),
    ("outcome", "outcome"),
    ("store", "store_id"),
    ("terminal", "terminal_id"),
)
"""(tag, event attribute), sorted by tag. Outcome (5 values) and local error (~20, only on
failed attempts) are bounded; everything per-attempt is a field."""
CAUSE_TAG: Final = "cause"
"""Tag with the attempt's cause group (9 values, ``posfleet.payments``: the acquirer's code
table, or the terminal's own error); written before the other tags, being first in order."""
TRANSACTION_FIELDS: Final = (
    ("transaction_id", S),
    ("amount_minor", N),
    ("currency", S),
    ("host_response_code", S),
    ("entry_mode", S),
    ("reversal_state", S),
    ("operator_id", S),
    ("stan", S),
    ("rrn", S),
)

NOT_WRITTEN: Final = {
    "schema_version": "the contract version, implied by the measurement names",
    "terminal_id": "tag terminal",
    "merchant_id": "tag merchant",
    "store_id": "tag store",
    "region": "tag region",
    "observed_at": "the point's timestamp",
    "occurred_at": "the point's timestamp",
    "masked_pan": "card data, even masked, has no place in monitoring history",
}
"""Telemetry fields that are not InfluxDB fields, and why."""
