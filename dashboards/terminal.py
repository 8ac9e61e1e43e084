"""Terminal: every component over time, its events (alerts, failed payments) and tickets."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from posfleet.dashboards.kit import (
    BAD_ANY,
    FULL,
    HALF,
    INFO_ONLY,
    TERMINAL_UID,
    THIRD,
    Board,
    Size,
    identity_variables,
    influxql,
    promql,
    stat_panel,
    steps,
    table_panel,
    ticket_annotations,
    timeseries_panel,
)

T = 'terminal="$terminal"'
"""PromQL matcher of the one terminal."""
TW = "\"terminal\" = '$terminal' AND $timeFilter"
"""InfluxQL condition of the one terminal in the time range."""


def _history(measurement: str, field: str, aggregate: str = "mean") -> str:
    return (
        f'SELECT {aggregate}("{field}") FROM "{measurement}" WHERE {TW} '
        "GROUP BY time($__interval) fill(none)"
    )


def _per_interval(measurement: str, field: str) -> str:
    """Increase of a counter field per interval (resets of the terminal count as none)."""
    return (
        f'SELECT non_negative_difference(last("{field}")) FROM "{measurement}" WHERE {TW} '
        "GROUP BY time($__interval) fill(none)"
    )


def build() -> db.Dashboard:
    board = Board(
        TERMINAL_UID,
        "posfleet / Terminal",
        "One terminal: health, every component over time (InfluxDB history and Prometheus), "
        "its alerts and tickets, and its failed payments.",
    )
    board.builder = board.builder.variables(
        identity_variables(single="terminal", all_default=False)
    ).annotations(ticket_annotations(T))
    board.add(
        stat_panel(
            "Health",
            "1 while the terminal answers (online or degraded).",
            "bool_yes_no",
            steps("red", (1, "green")),
            promql(f"max(posfleet_terminal_up{{{T}}})", "up"),
            size=Size(4, 5),
        ),
        stat_panel(
            "Certificate expires in",
            "Time left until the terminal's payment certificate expires.",
            "s",
            steps("red", (7 * 86400, "orange"), (30 * 86400, "green")),
            promql(f"min(posfleet_certificate_expiry_timestamp_seconds{{{T}}}) - time()",
                   "certificate"),
            size=Size(5, 5),
        ),
        stat_panel(
            "Clock skew",
            "Difference between the terminal's clock and the collector's.",
            "s",
            steps("green", (30, "orange"), (120, "red")),
            promql(f"max(abs(posfleet_clock_skew_seconds{{{T}}}))", "skew"),
            size=Size(5, 5),
        ),
        table_panel(
            "Firmware",
            "Versions the terminal reports (posfleet_terminal_info).",
            "none",
            INFO_ONLY,
            promql(
                f"max by (vendor, model, os_version, payment_app_version, emv_kernel_version, "
                f"network_interface) (posfleet_terminal_info{{{T}}})",
                instant=True,
            ),
            size=Size(10, 5),
            transformations=[{"id": "organize",
                              "options": {"excludeByName": {"Time": True, "Value": True}}}],
        ),
    )
    board.row("Components over time")
    board.add(
        timeseries_panel(
            "Health state",
            "1 for the current state: online, degraded, offline or unknown.",
            "none",
            INFO_ONLY,
            promql(f"max by (state) (posfleet_terminal_health{{{T}}})", "{{state}}"),
            size=THIRD,
        ),
        timeseries_panel(
            "Printer",
            "Printer online, paper state (ok / near end / out), cover, jam: 1 when true.",
            "none",
            INFO_ONLY,
            promql(f"max(posfleet_printer_online{{{T}}})", "online"),
            promql(f"max by (state) (posfleet_printer_paper_state{{{T}}})", "paper {{state}}"),
            promql(f"max(posfleet_printer_cover_open{{{T}}})", "cover open"),
            size=THIRD,
        ),
        timeseries_panel(
            "Receipt lines printed",
            "Receipt lines printed per interval (InfluxDB, posfleet_printer).",
            "short",
            INFO_ONLY,
            influxql(_per_interval("posfleet_printer", "receipt_lines_printed_total"),
                     alias="lines"),
            size=THIRD,
            bars=True,
        ),
        timeseries_panel(
            "Signal strength",
            "Mean signal per interval (InfluxDB, posfleet_network).",
            "dBm",
            steps("red", (-100, "orange"), (-85, "green")),
            influxql(_history("posfleet_network", "signal_dbm"), alias="signal"),
            size=THIRD,
        ),
        timeseries_panel(
            "Acquirer latency",
            "Mean round trip to the acquirer per interval (InfluxDB, posfleet_network).",
            "ms",
            steps("green", (2000, "orange"), (5000, "red")),
            influxql(_history("posfleet_network", "acquirer_latency_ms"), alias="latency"),
            influxql(_history("posfleet_network", "acquirer_latency_ms", "max"), alias="max"),
            size=THIRD,
        ),
        timeseries_panel(
            "Packet loss",
            "Mean packet loss per interval (InfluxDB, posfleet_network).",
            "percentunit",
            steps("green", (0.02, "orange"), (0.1, "red")),
            influxql(_history("posfleet_network", "packet_loss_ratio"), alias="loss"),
            size=THIRD,
        ),
        timeseries_panel(
            "Card reads",
            "Card reads per second by interface and result (chip, magstripe, contactless).",
            "cps",
            INFO_ONLY,
            promql(
                f"sum by (interface, result) (rate(posfleet_card_reads_total{{{T}}}"
                "[$__rate_interval]))",
                "{{interface}} {{result}}",
            ),
            size=THIRD,
        ),
        timeseries_panel(
            "Battery",
            "Battery charge (InfluxDB, posfleet_system; percent).",
            "percent",
            steps("red", (20, "orange"), (40, "green")),
            influxql(_history("posfleet_system", "battery_percent"), alias="charge"),
            size=THIRD,
        ),
        timeseries_panel(
            "Memory and storage used",
            "Share of memory and storage in use.",
            "percentunit",
            steps("green", (0.8, "orange"), (0.95, "red")),
            promql(f"max(posfleet_memory_used_bytes{{{T}}} / posfleet_memory_size_bytes{{{T}}})",
                   "memory"),
            promql(
                f"max(posfleet_storage_used_bytes{{{T}}} / posfleet_storage_size_bytes{{{T}}})",
                "storage",
            ),
            size=THIRD,
        ),
    )
    board.row("Events and tickets")
    board.add(
        table_panel(
            "Alerts holding tickets",
            "The terminal's firing alerts; the ticket bridge keeps one ticket per terminal "
            "and fault open while its alert fires.",
            "none",
            BAD_ANY,
            promql(f'ALERTS{{alertstate="firing", {T}}}', instant=True),
            size=HALF,
            transformations=[
                {
                    "id": "organize",
                    "options": {"excludeByName": {"Time": True, "Value": True,
                                                  "__name__": True, "alertstate": True}},
                }
            ],
        ),
        timeseries_panel(
            "Payments by outcome",
            "The terminal's attempts per interval by outcome (InfluxDB).",
            "short",
            INFO_ONLY,
            influxql(
                'SELECT count("transaction_id") FROM "posfleet_transaction" '
                f'WHERE {TW} GROUP BY time($__interval), "outcome" fill(none)',
                alias="$tag_outcome",
            ),
            size=HALF,
            stacked=True,
        ),
        table_panel(
            "Failed payments",
            "The terminal's latest attempts that were not approved, newest first.",
            "none",
            BAD_ANY,
            influxql(
                'SELECT "outcome", "cause", "local_error", "host_response_code", "entry_mode", '
                '"reversal_state", "operator_id" FROM "posfleet_transaction" '
                f"WHERE \"outcome\" != 'approved' AND {TW} ORDER BY time DESC LIMIT 50",
                table_format=True,
            ),
            size=FULL,
        ),
    )
    return board.builder
