"""Fleet overview: is the fleet selling, where not, and why."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from posfleet.dashboards.kit import (
    BAD_ANY,
    FLEET_UID,
    FULL,
    GOOD_HIGH_RATIO,
    INFO_ONLY,
    SEL,
    STORE_UID,
    THIRD,
    TWO_THIRDS,
    Board,
    bar_gauge_panel,
    dashboard_url,
    identity_variables,
    promql,
    stat_panel,
    steps,
    table_panel,
    ticket_annotations,
    timeseries_panel,
)

TECHNICAL_CAUSES = "device_fault|network|terminal_config|gateway_outage|unclassified"


def _below_baseline(component: str, label: str) -> str:
    """Terminals whose ``label`` version is below the baseline of ``component`` (the
    security rules' join)."""
    return (
        f"count(posfleet_terminal_info{{{SEL}}} * on ({label}) group_left () label_replace("
        f'component_version:posfleet_version_below_baseline:max{{component="{component}"}} == 1, '
        f'"{label}", "$1", "version", "(.*)"))'
    )


def build() -> db.Dashboard:
    board = Board(
        FLEET_UID,
        "posfleet / Fleet overview",
        "Terminals online, health by region and store, payments, failures by cause, tickets, "
        "firmware compliance and suspected charged-but-failed cases.",
    )
    board.builder = board.builder.variables(identity_variables()).annotations(
        ticket_annotations(SEL)
    )
    board.row("Terminals")
    board.add(
        stat_panel(
            "Terminals online",
            "Terminals the collectors see online or degraded (posfleet_terminal_up).",
            "none",
            INFO_ONLY,
            promql(f"sum(posfleet_terminal_up{{{SEL}}})", "online"),
        ),
        stat_panel(
            "Share online",
            "Online terminals out of all known terminals.",
            "percentunit",
            GOOD_HIGH_RATIO,
            promql(
                f"sum(posfleet_terminal_up{{{SEL}}}) / count(posfleet_terminal_up{{{SEL}}})",
                "online",
            ),
        ),
        stat_panel(
            "Terminals offline",
            "Terminals in health state offline.",
            "none",
            BAD_ANY,
            promql(f'sum(posfleet_terminal_health{{state="offline", {SEL}}})', "offline"),
        ),
        stat_panel(
            "Firmware compliance",
            "Share of terminals whose payment application, EMV kernel and OS are all at or "
            "above the acquirer's baseline (posfleet_version_below_baseline).",
            "percentunit",
            steps("red", (0.95, "orange"), (1, "green")),
            promql(
                f"1 - ((({_below_baseline('payment_app', 'payment_app_version')}) or vector(0))"
                f" + (({_below_baseline('emv_kernel', 'emv_kernel_version')}) or vector(0))"
                f" + (({_below_baseline('os', 'os_version')}) or vector(0)))"
                f" / count(posfleet_terminal_info{{{SEL}}})",
                "compliant",
            ),
        ),
    )
    board.add(
        bar_gauge_panel(
            "Health by region",
            "Share of each region's terminals that are online.",
            "percentunit",
            GOOD_HIGH_RATIO,
            promql(
                f"sum by (region) (posfleet_terminal_up{{{SEL}}})"
                f" / count by (region) (posfleet_terminal_up{{{SEL}}})",
                "{{region}}",
                instant=True,
            ),
            size=THIRD,
            min_value=0,
            max_value=1,
        ),
        table_panel(
            "Health by store",
            "Online share per store; click a store to open its dashboard.",
            "percentunit",
            GOOD_HIGH_RATIO,
            promql(
                f"sum by (store, merchant, region) (posfleet_terminal_up{{{SEL}}})"
                f" / count by (store, merchant, region) (posfleet_terminal_up{{{SEL}}})",
                instant=True,
            ),
            size=TWO_THIRDS,
            transformations=[
                {"id": "organize", "options": {"excludeByName": {"Time": True},
                                               "renameByName": {"Value": "online share"}}},
            ],
            links={"store": ("Store ${__value.raw}",
                             dashboard_url(STORE_UID, "var-store=${__value.raw}"))},
        ),
    )
    board.row("Payments")
    board.add(
        timeseries_panel(
            "Transaction success ratio",
            "Approved attempts out of all attempts, and the technical success ratio (attempts "
            "not failed by device, network, configuration, gateway or unknown causes; issuer "
            "refusals, limits and input errors are business outcomes).",
            "percentunit",
            GOOD_HIGH_RATIO,
            promql(
                f'sum(rate(posfleet_transactions_total{{outcome="approved", {SEL}}}'
                f"[$__rate_interval])) / sum(rate(posfleet_transactions_total{{{SEL}}}"
                "[$__rate_interval]))",
                "approved",
            ),
            promql(
                f"1 - sum(store:posfleet_transactions_failed:rate5m{{{SEL}}})"
                f" / sum(store:posfleet_transactions:rate5m{{{SEL}}})",
                "technical success",
            ),
        ),
        timeseries_panel(
            "Failures by cause group",
            "Attempts that were not approved, per second, by cause group.",
            "cps",
            INFO_ONLY,
            promql(
                f'sum by (cause) (rate(posfleet_transactions_total{{cause!="approved", {SEL}}}'
                "[$__rate_interval]))",
                "{{cause}}",
            ),
            stacked=True,
        ),
    )
    board.row("Tickets and cases")
    board.add(
        bar_gauge_panel(
            "Open tickets by team",
            "Tickets open or acknowledged at the ticket bridge, by the team their alert routes "
            "to (posfleet_tickets; one ticket per terminal and fault). Fleet-wide: the "
            "bridge's count carries no region or store, so the variables do not filter it.",
            "none",
            steps("green", (1, "orange"), (10, "red")),
            promql('sum by (team) (posfleet_tickets{status=~"open|acknowledged", team!=""})',
                   "{{team}}", instant=True),
            size=THIRD,
            no_value="0",
        ),
        stat_panel(
            "Tickets by status",
            "Tickets in the bridge's store that are not closed, per status "
            "(posfleet_tickets).",
            "none",
            steps("green", (1, "orange"), (25, "red")),
            promql('sum by (status) (posfleet_tickets{status=~"open|acknowledged|resolved"})',
                   "{{status}}"),
            size=THIRD,
        ),
        stat_panel(
            "Suspected charged-but-failed cases",
            "Open cases where a customer may have been charged for a sale the terminal showed "
            "as failed, by kind (posfleet_payment_cases_open), and reversals given up "
            "(posfleet_reversals, state failed).",
            "none",
            BAD_ANY,
            promql(f"sum by (kind) (posfleet_payment_cases_open{{{SEL}}})", "{{kind}}"),
            promql(f'sum(posfleet_reversals{{state="failed", {SEL}}})', "reversals failed"),
            size=THIRD,
            no_value="0",
        ),
    )
    board.add(
        timeseries_panel(
            "Failed transactions per region",
            "Technical failures per second by region (recording rule "
            "region:posfleet_transactions_failed:rate5m).",
            "cps",
            steps("green", (0.05, "orange"), (0.2, "red")),
            promql('region:posfleet_transactions_failed:rate5m{region=~"$region"}',
                   "{{region}}"),
            size=FULL,
        )
    )
    return board.builder

