"""The metric catalogue: every Prometheus metric posfleet exposes, in one place.

Each :class:`MetricSpec` names a metric family as it appears in the text exposition (counters
end in ``_total``), its type, unit, help text and label names; a terminal metric also says
which telemetry field it comes from and how the value is converted to base units. The
terminal exporter (``posfleet.exporters.prometheus``) is driven by these specs, the
``docs/metrics.md`` reference is generated from them, and tests check every exposition
against them (:func:`exposition_problems`), so a metric cannot exist without being here.

Components register their self-metrics in :data:`CATALOGUE` with
``CATALOGUE.register("<component>", SPECS)`` at the end of this module: define the tuple of
specs next to the others and add one ``register`` line, so the catalogue's content never
depends on which modules happen to be imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from posfleet.alerts.bridge.metric_specs import TICKETS_METRICS
from posfleet.exporters.influxdb.metrics import INFLUXDB_METRICS
from posfleet.exporters.ingest.metrics import INGEST_METRICS
from posfleet.exporters.metric_spec import (
    IDENTITY_LABELS,
    PREFIX,
    UNITS,
    Catalogue,
    Conversion,
    DuplicateMetric,
    MetricSpec,
    MetricType,
    Source,
    exposition_problems,
)
from posfleet.exporters.mqtt_uplink.metrics import UPLINK_METRICS
from posfleet.exporters.status_store.metrics import STATUS_STORE_METRICS
from posfleet.payments.metric_specs import PAYMENTS_METRICS
from posfleet.web.metric_specs import WEB_METRICS

__all__ = [
    "CATALOGUE",
    "COLLECTOR_METRICS",
    "DERIVED_METRICS",
    "IDENTITY_LABELS",
    "PREFIX",
    "REMOTE_WRITE_METRICS",
    "TERMINAL_METRICS",
    "UNITS",
    "Catalogue",
    "Conversion",
    "DuplicateMetric",
    "MetricSpec",
    "MetricType",
    "Source",
    "exposition_problems",
]


def _terminal(
    name: str,
    kind: MetricType,
    help_text: str,
    conversion: Conversion,
    *sources: Source | str,
    unit: str = "",
    labels: Sequence[tuple[str, tuple[str, ...]]] = (),
) -> MetricSpec:
    own = tuple(label for label, _ in labels)
    return MetricSpec(
        name=name,
        type=kind,
        help=help_text,
        unit=unit,
        labels=(*IDENTITY_LABELS, *own),
        label_values=tuple(labels),
        sources=tuple(s if isinstance(s, Source) else Source(s) for s in sources),
        conversion=conversion,
    )


_C = MetricType.COUNTER
_G = MetricType.GAUGE
_H = MetricType.HISTOGRAM

INFO_LABELS: Final = (
    ("vendor", "vendor"),
    ("model", "model"),
    ("serial", "serial"),
    ("os_version", "firmware.os_version"),
    ("payment_app_version", "firmware.payment_app_version"),
    ("emv_kernel_version", "firmware.emv_kernel_version"),
    ("network_interface", "network.interface"),
)
"""Labels of ``posfleet_terminal_info`` and the snapshot fields they come from."""

HEALTH_STATES: Final = ("online", "degraded", "offline", "unknown")
PAPER_STATES: Final = ("ok", "near_end", "out")

TERMINAL_METRICS: Final[tuple[MetricSpec, ...]] = (
    _terminal(
        "posfleet_terminal_info",
        _G,
        "Static attributes and software versions of a terminal (value 1); an attribute the "
        "terminal did not report is an empty label.",
        Conversion.INFO,
        *(Source(path, (label,)) for label, path in INFO_LABELS),
        labels=[(label, ()) for label, _ in INFO_LABELS],
    ),
    _terminal(
        "posfleet_terminal_up",
        _G,
        "1 when the collector reaches the terminal (online or degraded), 0 when offline.",
        Conversion.UP,
        "view.health",
    ),
    _terminal(
        "posfleet_terminal_health",
        _G,
        "Health as the collector sees it: 1 for the current state, 0 for the others.",
        Conversion.HEALTH,
        "view.health",
        labels=[("state", HEALTH_STATES)],
    ),
    _terminal(
        "posfleet_terminal_last_seen_timestamp_seconds",
        _G,
        "When a source of the terminal last answered with good data (Unix time).",
        Conversion.TIME,
        "view.last_seen",
        unit="seconds",
    ),
    # --- printer ---
    _terminal(
        "posfleet_printer_online",
        _G,
        "1 when the receipt printer answers and reports itself online.",
        Conversion.FLAG,
        "printer.online",
    ),
    _terminal(
        "posfleet_printer_paper_state",
        _G,
        "Receipt paper: 1 for the current state (ok, near_end, out), 0 for the others.",
        Conversion.STATE,
        "printer.paper",
        labels=[("state", PAPER_STATES)],
    ),
    _terminal(
        "posfleet_printer_cover_open",
        _G,
        "1 when the printer's roll cover is open.",
        Conversion.FLAG,
        "printer.cover_open",
    ),
    _terminal(
        "posfleet_printer_paper_jam",
        _G,
        "1 when paper is jammed in the printer.",
        Conversion.FLAG,
        "printer.paper_jam",
    ),
    _terminal(
        "posfleet_printer_cutter_error",
        _G,
        "1 when the autocutter failed.",
        Conversion.FLAG,
        "printer.cutter_error",
    ),
    _terminal(
        "posfleet_printer_unrecoverable_error",
        _G,
        "1 when the printer has an error that needs a power cycle or a technician.",
        Conversion.FLAG,
        "printer.unrecoverable_error",
    ),
    _terminal(
        "posfleet_printer_recoverable_error",
        _G,
        "1 when the printer has an error that clears by itself.",
        Conversion.FLAG,
        "printer.recoverable_error",
    ),
    _terminal(
        "posfleet_printer_over_temperature",
        _G,
        "1 when the print head is too hot and printing is paused.",
        Conversion.FLAG,
        "printer.over_temperature",
    ),
    _terminal(
        "posfleet_printer_receipt_lines_total",
        _C,
        "Receipt lines printed.",
        Conversion.NUMBER,
        "printer.receipt_lines_printed_total",
    ),
    _terminal(
        "posfleet_printer_cuts_total",
        _C,
        "Cuts the autocutter made.",
        Conversion.NUMBER,
        "printer.paper_cuts_total",
    ),
    _terminal(
        "posfleet_printer_failed_cuts_total",
        _C,
        "Cuts that failed.",
        Conversion.NUMBER,
        "printer.failed_cuts_total",
    ),
    _terminal(
        "posfleet_printer_faults_total",
        _C,
        "Printer faults of any kind.",
        Conversion.NUMBER,
        "printer.faults_total",
    ),
    # --- screen ---
    _terminal(
        "posfleet_screen_display_ok",
        _G,
        "1 when the display works.",
        Conversion.FLAG,
        "screen.display_ok",
    ),
    _terminal(
        "posfleet_screen_touch_responsive",
        _G,
        "1 when the touch panel answers touches.",
        Conversion.FLAG,
        "screen.touch_responsive",
    ),
    _terminal(
        "posfleet_screen_touch_errors_total",
        _C,
        "Touch controller errors (missed, ghost or rejected touches, resets).",
        Conversion.NUMBER,
        "screen.touch_errors_total",
    ),
    # --- card reader and QR ---
    _terminal(
        "posfleet_card_reads_total",
        _C,
        "Card reads by interface (chip, magstripe, contactless) and result (ok, failed).",
        Conversion.NUMBER,
        *(
            Source(f"card_reader.{interface}_reads_{result}_total", (interface, result))
            for interface in ("chip", "magstripe", "contactless")
            for result in ("ok", "failed")
        ),
        labels=[("interface", ("chip", "magstripe", "contactless")), ("result", ("ok", "failed"))],
    ),
    _terminal(
        "posfleet_qr_scanner_ok",
        _G,
        "1 when the QR camera is present and reports no fault.",
        Conversion.FLAG,
        "qr_scanner.ok",
    ),
    _terminal(
        "posfleet_qr_decodes_total",
        _C,
        "QR scans by result (ok: decoded, failed: did not decode).",
        Conversion.NUMBER,
        Source("qr_scanner.decodes_ok_total", ("ok",)),
        Source("qr_scanner.decode_failures_total", ("failed",)),
        labels=[("result", ("ok", "failed"))],
    ),
    # --- network ---
    _terminal(
        "posfleet_network_link_up",
        _G,
        "1 when the link layer is up (cable, Wi-Fi association, cellular attach).",
        Conversion.FLAG,
        "network.link_up",
    ),
    _terminal(
        "posfleet_network_signal_dbm",
        _G,
        "Received signal strength of Wi-Fi or cellular, in dBm.",
        Conversion.NUMBER,
        "network.signal_dbm",
        unit="dbm",
    ),
    _terminal(
        "posfleet_network_acquirer_latency_seconds",
        _G,
        "Round-trip time to the acquirer host.",
        Conversion.MILLISECONDS,
        "network.acquirer_latency_ms",
        unit="seconds",
    ),
    _terminal(
        "posfleet_network_packet_loss_ratio",
        _G,
        "Share of probes to the acquirer host lost (0 to 1).",
        Conversion.NUMBER,
        "network.packet_loss_ratio",
        unit="ratio",
    ),
    _terminal(
        "posfleet_network_dns_ok",
        _G,
        "1 when the acquirer host name resolves.",
        Conversion.FLAG,
        "network.dns_ok",
    ),
    _terminal(
        "posfleet_network_tls_ok",
        _G,
        "1 when a TLS handshake with the acquirer host succeeds and verifies.",
        Conversion.FLAG,
        "network.tls_ok",
    ),
    _terminal(
        "posfleet_network_link_flaps_total",
        _C,
        "Times the link went down and up again.",
        Conversion.NUMBER,
        "network.link_flaps_total",
    ),
    _terminal(
        "posfleet_network_sim_data_remaining_bytes",
        _G,
        "Data left on the SIM's plan before it is throttled or cut.",
        Conversion.NUMBER,
        "network.sim_data_remaining_bytes",
        unit="bytes",
    ),
    # --- firmware and security ---
    _terminal(
        "posfleet_firmware_security_patch_timestamp_seconds",
        _G,
        "Date of the latest security patch installed (Unix time of its midnight UTC).",
        Conversion.DATE,
        "firmware.security_patch_date",
        unit="seconds",
    ),
    _terminal(
        "posfleet_tamper_detected",
        _G,
        "1 when the secure element reports tampering: take the terminal out of service.",
        Conversion.FLAG,
        "firmware.tamper_detected",
    ),
    _terminal(
        "posfleet_certificate_expiry_timestamp_seconds",
        _G,
        "When the terminal's TLS client certificate expires (Unix time).",
        Conversion.TIME,
        "firmware.certificate_expires_at",
        unit="seconds",
    ),
    _terminal(
        "posfleet_key_expiry_timestamp_seconds",
        _G,
        "When the payment keys must be renewed (Unix time).",
        Conversion.TIME,
        "firmware.key_expires_at",
        unit="seconds",
    ),
    _terminal(
        "posfleet_clock_skew_seconds",
        _G,
        "Terminal clock minus reference clock (negative when it runs behind).",
        Conversion.NUMBER,
        "firmware.clock_skew_seconds",
        unit="seconds",
    ),
    # --- system ---
    _terminal(
        "posfleet_battery_charge_ratio",
        _G,
        "Battery charge (0 to 1).",
        Conversion.PERCENT,
        "system.battery_percent",
        unit="ratio",
    ),
    _terminal(
        "posfleet_battery_charging",
        _G,
        "1 when the battery is charging.",
        Conversion.FLAG,
        "system.charging",
    ),
    _terminal(
        "posfleet_battery_health_ratio",
        _G,
        "Full-charge capacity relative to design capacity (below 0.6 is worn).",
        Conversion.NUMBER,
        "system.battery_health_ratio",
        unit="ratio",
    ),
    _terminal(
        "posfleet_uptime_seconds",
        _G,
        "Time since the terminal last started, as it reported it.",
        Conversion.NUMBER,
        "system.uptime_seconds",
        unit="seconds",
    ),
    _terminal(
        "posfleet_reboots_total",
        _C,
        "Restarts the terminal recorded.",
        Conversion.NUMBER,
        "system.reboots_total",
    ),
    _terminal(
        "posfleet_storage_used_bytes",
        _G,
        "Storage in use.",
        Conversion.NUMBER,
        "system.storage_used_bytes",
        unit="bytes",
    ),
    _terminal(
        "posfleet_storage_size_bytes",
        _G,
        "Storage size.",
        Conversion.NUMBER,
        "system.storage_total_bytes",
        unit="bytes",
    ),
    _terminal(
        "posfleet_memory_used_bytes",
        _G,
        "Memory in use.",
        Conversion.NUMBER,
        "system.memory_used_bytes",
        unit="bytes",
    ),
    _terminal(
        "posfleet_memory_size_bytes",
        _G,
        "Memory size.",
        Conversion.NUMBER,
        "system.memory_total_bytes",
        unit="bytes",
    ),
)
"""Per-terminal metrics, from the latest snapshot and the collector's view of the terminal.
A value the terminal did not report produces no series (never a fake zero)."""


def _self(
    name: str,
    kind: MetricType,
    help_text: str,
    *labels: str,
    unit: str = "",
    label_values: Sequence[tuple[str, tuple[str, ...]]] = (),
) -> MetricSpec:
    return MetricSpec(name, kind, help_text, unit, labels, tuple(label_values))


COLLECTOR_METRICS: Final[tuple[MetricSpec, ...]] = (
    _self(
        "posfleet_collector_polls_total",
        _C,
        "Polls finished, by driver and result (ok, error, or pending: nothing to report yet).",
        "driver",
        "result",
        label_values=[("result", ("ok", "error", "pending"))],
    ),
    _self(
        "posfleet_collector_poll_errors_total",
        _C,
        "Failed polls, by driver and reason (timeout, unreachable, malformed, ...).",
        "driver",
        "reason",
    ),
    _self(
        "posfleet_collector_bad_input_total",
        _C,
        "Refused messages or bodies (malformed, too_large, card_data, ...), by driver.",
        "driver",
        "reason",
    ),
    _self(
        "posfleet_collector_poll_duration_seconds",
        _H,
        "Time one poll took, by driver.",
        "driver",
        unit="seconds",
    ),
    _self(
        "posfleet_collector_scheduling_lag_seconds",
        _H,
        "How late polls started after they were due (slots busy, event loop busy).",
        unit="seconds",
    ),
    _self(
        "posfleet_collector_scheduling_lag_p99_seconds",
        _G,
        "99th percentile of the last 10000 scheduling lags.",
        unit="seconds",
    ),
    _self(
        "posfleet_collector_terminals",
        _G,
        "Terminals by health state (unknown: not read yet).",
        "state",
        label_values=[("state", HEALTH_STATES)],
    ),
)
"""Self-metrics of the edge collector (``posfleet.collector.metrics``)."""

REMOTE_WRITE_METRICS: Final[tuple[MetricSpec, ...]] = (
    _self(
        "posfleet_remote_write_samples_sent_total",
        _C,
        "Samples the remote-write receiver accepted.",
    ),
    _self(
        "posfleet_remote_write_samples_failed_total",
        _C,
        "Samples in requests that failed and will be retried, by reason (http_5xx, "
        "http_429, connection, timeout).",
        "reason",
    ),
    _self(
        "posfleet_remote_write_samples_retried_total",
        _C,
        "Samples sent again after a failed attempt.",
    ),
    _self(
        "posfleet_remote_write_samples_dropped_total",
        _C,
        "Samples given up on, by reason (rejected: the receiver refused them with a 4xx "
        "answer other than 429; the reason is logged).",
        "reason",
        label_values=[("reason", ("rejected",))],
    ),
    _self(
        "posfleet_remote_write_buffer_dropped_requests_total",
        _C,
        "Requests dropped unsent because the store-and-forward buffer reached its size cap "
        "(the oldest go first), or because a buffer file was damaged.",
    ),
    _self(
        "posfleet_remote_write_buffered_requests",
        _G,
        "Requests waiting in the store-and-forward buffer.",
    ),
    _self(
        "posfleet_remote_write_buffered_bytes",
        _G,
        "Bytes (compressed requests) waiting in the store-and-forward buffer.",
        unit="bytes",
    ),
    _self(
        "posfleet_remote_write_last_success_timestamp_seconds",
        _G,
        "When the receiver last accepted a request (Unix time; 0 before the first).",
        unit="seconds",
    ),
)
"""Self-metrics of the Prometheus remote-write output (``posfleet.exporters.remote_write``)."""


STORE_LABELS: Final = ("store", "merchant", "region")
"""Labels of per-store series (transactions are counted per store, not per terminal)."""
CAUSE_GROUPS: Final = (
    "approved",
    "operator_error",
    "device_fault",
    "network",
    "terminal_config",
    "issuer_refusal",
    "gateway_outage",
    "policy_limit",
    "unclassified",
)
"""Cause groups of payment attempts (``posfleet.exporters.derived.causes``)."""
OUTCOMES: Final = ("approved", "declined", "failed", "timeout", "reversed")

DERIVED_METRICS: Final[tuple[MetricSpec, ...]] = (
    _self(
        "posfleet_printer_paper_time_to_empty_seconds",
        _G,
        "Estimated time until the receipt paper runs out at the recent print rate, once the "
        "near-end sensor has tripped; absent when it cannot be estimated.",
        *IDENTITY_LABELS,
        unit="seconds",
    ),
    _self(
        "posfleet_store_open",
        _G,
        "1 during the store's opening hours in its time zone (always, without hours), else 0.",
        *STORE_LABELS,
    ),
    _self(
        "posfleet_policy_threshold",
        _G,
        "A fleet threshold from the alerting config, by name (the name carries the unit).",
        "name",
    ),
    _self(
        "posfleet_baseline_info",
        _G,
        "Lowest acceptable version of a component (os, payment_app, emv_kernel), value 1.",
        "component",
        "version",
        label_values=[("component", ("os", "payment_app", "emv_kernel"))],
    ),
    _self(
        "posfleet_version_below_baseline",
        _G,
        "1 when a version some terminal reports is older than the component's baseline, "
        "0 when it is not; join on posfleet_terminal_info's version labels.",
        "component",
        "version",
        label_values=[("component", ("os", "payment_app", "emv_kernel"))],
    ),
    _self(
        "posfleet_transactions_total",
        _C,
        "Payment attempts reported by terminals, per store, by outcome and cause group.",
        *STORE_LABELS,
        "outcome",
        "cause",
        label_values=[("outcome", OUTCOMES), ("cause", CAUSE_GROUPS)],
    ),
    _self(
        "posfleet_reversals",
        _G,
        "Open reversals per store: pending (queued or sent, not confirmed) and failed "
        "(given up: a customer may be charged for a failed sale; kept for a retention time).",
        *STORE_LABELS,
        "state",
        label_values=[("state", ("pending", "failed"))],
    ),
    _self(
        "posfleet_reversal_oldest_pending_age_seconds",
        _G,
        "Age of the store's oldest pending reversal; absent when none is pending.",
        *STORE_LABELS,
        unit="seconds",
    ),
)
"""Metrics derived from the telemetry and the config for the alert rules
(``posfleet.exporters.derived``)."""


CATALOGUE: Final = Catalogue()
"""The catalogue of every posfleet metric."""

CATALOGUE.register("terminal", TERMINAL_METRICS)
CATALOGUE.register("collector", COLLECTOR_METRICS)
CATALOGUE.register("remote_write", REMOTE_WRITE_METRICS)
CATALOGUE.register("derived", DERIVED_METRICS)

CATALOGUE.register("influxdb", INFLUXDB_METRICS)
CATALOGUE.register("mqtt_uplink", UPLINK_METRICS)
CATALOGUE.register("ingest", INGEST_METRICS)
CATALOGUE.register("tickets", TICKETS_METRICS)
CATALOGUE.register("payments", PAYMENTS_METRICS)
CATALOGUE.register("status_store", STATUS_STORE_METRICS)
CATALOGUE.register("web", WEB_METRICS)
