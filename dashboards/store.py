"""Store: each terminal's components at a glance, paper, network and recent failures."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from posfleet.dashboards.kit import (
    BAD_ANY,
    FULL,
    INFLUX_WHERE,
    INFO_ONLY,
    STORE_UID,
    TERMINAL_UID,
    THIRD,
    TSEL,
    Board,
    Size,
    dashboard_url,
    identity_variables,
    influxql,
    promql,
    stat_panel,
    steps,
    table_panel,
    ticket_annotations,
    timeseries_panel,
)

_GLANCE = {
    "up": "posfleet_terminal_up",
    "printer online": "posfleet_printer_online",
    "paper ok": 'posfleet_printer_paper_state{state="ok", __SEL__}',
    "network link": "posfleet_network_link_up",
    "TLS ok": "posfleet_network_tls_ok",
    "tamper": "posfleet_tamper_detected",
}


def _glance_query(metric: str) -> str:
    selector = metric.replace("__SEL__", TSEL) if "__SEL__" in metric else f"{metric}{{{TSEL}}}"
    return f"max by (terminal) ({selector})"


def build() -> db.Dashboard:
    board = Board(
        STORE_UID,
        "posfleet / Store",
        "One store: every terminal's components at a glance, receipt paper time to empty, "
        "network quality and recent failed payments.",
    )
    board.builder = board.builder.variables(identity_variables(single="store")).annotations(
        ticket_annotations(TSEL)
    )
    glance_targets = [
        promql(_glance_query(metric), name, instant=True) for name, metric in _GLANCE.items()
    ]
    board.add(
        table_panel(
            "Terminals at a glance",
            "Per terminal: 1 = fine for up, printer online, paper ok, network link and TLS; "
            "1 = alarm for tamper. Click a terminal to open its dashboard.",
            "none",
            steps("red", (1, "green")),
            *glance_targets,
            size=FULL,
            transformations=[
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": {
                            f"Value #{letter}": name
                            for letter, name in zip("ABCDEF", _GLANCE, strict=True)
                        },
                    },
                },
            ],
            links={
                "terminal": (
                    "Terminal ${__value.raw}",
                    dashboard_url(TERMINAL_UID, "var-store=$store", "var-terminal=${__value.raw}"),
                )
            },
        )
    )
    board.add(
        stat_panel(
            "Store open",
            "1 during the store's opening hours in its time zone.",
            "bool_on_off",
            steps("blue"),
            promql('max(store:posfleet_store_open:max{store=~"$store"})', "open"),
            size=Size(6, 6),
        ),
        timeseries_panel(
            "Paper time to empty",
            "Estimated time until each terminal's receipt roll runs out at the recent print "
            "rate; only terminals whose near-end sensor has tripped have a value.",
            "s",
            steps("red", (900, "orange"), (3600, "green")),
            promql(f"posfleet_printer_paper_time_to_empty_seconds{{{TSEL}}}", "{{terminal}}"),
            size=Size(18, 6),
        ),
    )
    board.row("Network quality")
    board.add(
        timeseries_panel(
            "Signal strength",
            "Cellular or Wi-Fi signal per terminal; below -100 dBm payments start timing out.",
            "dBm",
            steps("red", (-100, "orange"), (-85, "green")),
            promql(f"posfleet_network_signal_dbm{{{TSEL}}}", "{{terminal}}"),
            size=THIRD,
        ),
        timeseries_panel(
            "Acquirer latency",
            "Round trip to the acquirer host per terminal.",
            "s",
            steps("green", (2, "orange"), (5, "red")),
            promql(f"posfleet_network_acquirer_latency_seconds{{{TSEL}}}", "{{terminal}}"),
            size=THIRD,
        ),
        timeseries_panel(
            "Packet loss",
            "Share of probe packets lost per terminal.",
            "percentunit",
            steps("green", (0.02, "orange"), (0.1, "red")),
            promql(f"posfleet_network_packet_loss_ratio{{{TSEL}}}", "{{terminal}}"),
            size=THIRD,
        ),
    )
    board.row("Payments")
    board.add(
        timeseries_panel(
            "Attempts by outcome",
            "The store's payment attempts per interval, by outcome (InfluxDB history).",
            "short",
            INFO_ONLY,
            influxql(
                'SELECT count("transaction_id") FROM "posfleet_transaction" '
                f"WHERE {INFLUX_WHERE} AND $timeFilter "
                'GROUP BY time($__interval), "outcome" fill(none)',
                alias="$tag_outcome",
            ),
            stacked=True,
            size=Size(10, 9),
        ),
        table_panel(
            "Recent failures",
            "The store's latest attempts that were not approved, newest first.",
            "none",
            BAD_ANY,
            influxql(
                'SELECT "terminal", "outcome", "cause", "local_error", "host_response_code", '
                '"operator_id", "amount_minor", "currency" FROM "posfleet_transaction" '
                f"WHERE {INFLUX_WHERE} AND \"outcome\" != 'approved' AND $timeFilter "
                "ORDER BY time DESC LIMIT 50",
                table_format=True,
            ),
            size=Size(14, 9),
        ),
    )
    return board.builder
