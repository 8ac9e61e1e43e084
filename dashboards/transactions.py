"""Transactions and failures: response codes by cause group, reversals, operators' input
errors."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from posfleet.dashboards.kit import (
    BAD_ANY,
    INFLUX_WHERE,
    INFO_ONLY,
    SEL,
    THIRD,
    TRANSACTIONS_UID,
    Board,
    identity_variables,
    influxql,
    promql,
    stat_panel,
    steps,
    table_panel,
    ticket_annotations,
    timeseries_panel,
)

W = f"{INFLUX_WHERE} AND $timeFilter"


def _count_by(field: str) -> dict[str, object]:
    """A Grafana "group by" transformation: rows per ``field`` value with a count."""
    return {
        "id": "groupBy",
        "options": {
            "fields": {
                field: {"aggregations": [], "operation": "groupby"},
                "transaction_id": {"aggregations": ["count"], "operation": "aggregate"},
            }
        },
    }


def build() -> db.Dashboard:
    board = Board(
        TRANSACTIONS_UID,
        "posfleet / Transactions and failures",
        "Payment attempts by outcome and cause group, acquirer response codes, reversals "
        "and operators' input errors.",
    )
    board.builder = board.builder.variables(identity_variables()).annotations(
        ticket_annotations(SEL)
    )
    board.add(
        timeseries_panel(
            "Attempts by cause group",
            "Payment attempts per second by cause group (approved, issuer refusal, operator "
            "error, device fault, network, ...).",
            "cps",
            INFO_ONLY,
            promql(
                f"sum by (cause) (rate(posfleet_transactions_total{{{SEL}}}[$__rate_interval]))",
                "{{cause}}",
            ),
            stacked=True,
        ),
        timeseries_panel(
            "Attempts by outcome",
            "Payment attempts per second by outcome.",
            "cps",
            INFO_ONLY,
            promql(
                f"sum by (outcome) (rate(posfleet_transactions_total{{{SEL}}}"
                "[$__rate_interval]))",
                "{{outcome}}",
            ),
            stacked=True,
        ),
    )
    board.row("Response codes")
    board.add(
        timeseries_panel(
            "Not approved by cause group (history)",
            "Attempts not approved per interval, by cause group (InfluxDB).",
            "short",
            INFO_ONLY,
            influxql(
                'SELECT count("host_response_code") FROM "posfleet_transaction" '
                f"WHERE \"outcome\" != 'approved' AND {W} "
                'GROUP BY time($__interval), "cause" fill(none)',
                alias="$tag_cause",
            ),
            stacked=True,
            bars=True,
        ),
        table_panel(
            "Response codes",
            "Acquirer response codes of attempts not approved, with their cause group and "
            "count.",
            "none",
            INFO_ONLY,
            influxql(
                'SELECT "host_response_code", "cause", "transaction_id" '
                'FROM "posfleet_transaction" '
                f"WHERE \"outcome\" != 'approved' AND {W}",
                table_format=True,
            ),
            transformations=[
                {
                    "id": "groupBy",
                    "options": {
                        "fields": {
                            "host_response_code": {"aggregations": [], "operation": "groupby"},
                            "cause": {"aggregations": [], "operation": "groupby"},
                            "transaction_id": {"aggregations": ["count"],
                                               "operation": "aggregate"},
                        }
                    },
                }
            ],
        ),
    )
    board.row("Reversals")
    board.add(
        stat_panel(
            "Reversals open",
            "Reversals pending (queued or sent, not confirmed) and failed (given up: a "
            "customer may be charged for a failed sale).",
            "none",
            steps("green", (1, "orange"), (5, "red")),
            promql(f"sum by (state) (posfleet_reversals{{{SEL}}})", "{{state}}"),
            size=THIRD,
        ),
        stat_panel(
            "Oldest pending reversal",
            "Age of the oldest reversal still waiting for the acquirer's confirmation.",
            "s",
            steps("green", (300, "orange"), (900, "red")),
            promql(f"max(posfleet_reversal_oldest_pending_age_seconds{{{SEL}}})", "oldest"),
            size=THIRD,
            no_value="none pending",
        ),
        timeseries_panel(
            "Reversed attempts (history)",
            "Attempts with outcome reversed per interval (InfluxDB).",
            "short",
            BAD_ANY,
            influxql(
                'SELECT count("transaction_id") FROM "posfleet_transaction" '
                f"WHERE \"outcome\" = 'reversed' AND {W} GROUP BY time($__interval) fill(none)",
                alias="reversed",
            ),
            size=THIRD,
            bars=True,
        ),
    )
    board.row("Operators")
    board.add(
        timeseries_panel(
            "Input-error rate per store",
            "Share of each store's attempts that failed for an operator input error.",
            "percentunit",
            steps("green", (0.05, "orange"), (0.15, "red")),
            promql(
                f'sum by (store) (rate(posfleet_transactions_total{{cause="operator_error", '
                f"{SEL}}}[$__rate_interval])) / sum by (store) "
                f"(rate(posfleet_transactions_total{{{SEL}}}[$__rate_interval]))",
                "{{store}}",
            ),
        ),
        table_panel(
            "Input errors per operator",
            "Attempts with cause operator_error in the time range, per operator (InfluxDB); "
            "operators recommended for training have a ticket-free finding in "
            "posfleet_operator_training_recommended.",
            "none",
            steps("green", (5, "orange"), (20, "red")),
            influxql(
                'SELECT "operator_id", "store", "transaction_id" FROM "posfleet_transaction" '
                f"WHERE \"cause\" = 'operator_error' AND {W}",
                table_format=True,
            ),
            transformations=[_count_by("operator_id")],
        ),
    )
    return board.builder
