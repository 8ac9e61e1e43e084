"""The payments metrics, for the metric catalogue.

Imports nothing but :mod:`posfleet.exporters.metric_spec`, so the catalogue can register
these without importing the payments package; tests check the value sets against the enums.
"""

from __future__ import annotations

from typing import Final

from posfleet.exporters.metric_spec import MetricSpec, MetricType

CAUSES: Final = (
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
CASE_KINDS: Final = (
    "reversal_unconfirmed",
    "reversal_pending_idle",
    "reversal_failed",
    "near_duplicate",
)
CLOSE_REASONS: Final = (
    "reversal_confirmed",
    "reconciled_reversed",
    "reconciled_not_settled",
    "refunded",
)

_C, _G = MetricType.COUNTER, MetricType.GAUGE
_STORE = ("store", "merchant", "region")

PAYMENTS_METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(
        "posfleet_payment_attempts_total",
        _C,
        "Payment attempts per terminal by cause group; exported only while the fleet has at "
        "most payments.terminal_metrics_max_terminals terminals (per store: "
        "posfleet_transactions_total).",
        labels=("terminal", *_STORE, "cause"),
        label_values=(("cause", CAUSES),),
    ),
    MetricSpec(
        "posfleet_payment_cases_open",
        _G,
        "Open charged-but-failed cases per store and kind (customers possibly charged for "
        "sales shown as failed).",
        labels=(*_STORE, "kind"),
        label_values=(("kind", CASE_KINDS),),
    ),
    MetricSpec(
        "posfleet_payment_cases_opened_total",
        _C,
        "Charged-but-failed cases opened by this process, by kind.",
        labels=("kind",),
        label_values=(("kind", CASE_KINDS),),
    ),
    MetricSpec(
        "posfleet_payment_cases_closed_total",
        _C,
        "Charged-but-failed cases closed by this process, by reason.",
        labels=("reason",),
        label_values=(("reason", CLOSE_REASONS),),
    ),
    MetricSpec(
        "posfleet_payment_suspects_waiting",
        _G,
        "Timed-out or failed sales in memory waiting for a confirmed reversal.",
    ),
    MetricSpec(
        "posfleet_payment_suspects_evicted_total",
        _C,
        "Suspect sales made cases before their deadline because too many were waiting.",
    ),
    MetricSpec(
        "posfleet_payment_reversals_unmatched_total",
        _C,
        "Reversal confirmations that matched no waiting sale and no open case.",
    ),
    MetricSpec(
        "posfleet_payment_unclassified_codes_total",
        _C,
        "Response codes the acquirer's table does not know, by table and code (beyond 200 "
        "distinct codes: code=other).",
        labels=("table", "code"),
    ),
    MetricSpec(
        "posfleet_payment_tickets_due",
        _G,
        "Case tickets waiting to be opened or resolved at the ticket bridge.",
    ),
    MetricSpec(
        "posfleet_payment_ticket_failures_total",
        _C,
        "Attempts to deliver a case ticket that failed (retried on the next sweep).",
    ),
    MetricSpec(
        "posfleet_operator_training_recommended",
        _G,
        "1 for an operator whose input-error rate is well above the store's other "
        "operators (payments.training).",
        labels=(*_STORE, "operator"),
    ),
)
"""Every family :class:`posfleet.payments.metrics.PaymentsMetrics` exposes."""
