"""The ticket bridge's metric families, for the metric catalogue.

Kept apart from :mod:`.metrics` (which reads the ticket store, and so imports SQLAlchemy) so
that the catalogue, which every posfleet command loads, stays light and free of cycles.
"""

from __future__ import annotations

from typing import Final

from posfleet.exporters.metric_spec import MetricSpec, MetricType

WEBHOOK_RESULTS: Final = (
    "accepted",
    "invalid_json",
    "card_data",
    "invalid_payload",
    "unsupported_version",
    "too_large",
    "unauthorized",
    "store_unavailable",
)
"""Values of ``result`` on posfleet_tickets_webhooks_received_total."""
ALERT_OUTCOMES: Final = ("opened", "reopened", "updated", "repeat", "resolved", "ignored")
"""What applying one alert did to its ticket (the store's ``Outcome``)."""
CLOSE_REASONS: Final = ("resolved", "manual")
TICKET_STATUSES: Final = ("open", "acknowledged", "resolved", "closed")
"""The values of :class:`~posfleet.alerts.bridge.model.TicketStatus`."""
STORE_OPERATIONS: Final = ("webhook", "api", "outbox", "background", "scrape")
"""Where a ticket store operation failed (label ``operation``)."""

_C, _G = MetricType.COUNTER, MetricType.GAUGE

TICKETS_METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(
        "posfleet_tickets_webhooks_received_total",
        _C,
        "Alertmanager notifications received, by result (bad payloads included).",
        labels=("result",),
        label_values=(("result", WEBHOOK_RESULTS),),
    ),
    MetricSpec(
        "posfleet_tickets_alerts_applied_total",
        _C,
        "Faults in notifications applied to tickets, by outcome "
        "(opened, reopened, updated, repeat, resolved, ignored).",
        labels=("outcome",),
        label_values=(("outcome", ALERT_OUTCOMES),),
    ),
    MetricSpec("posfleet_tickets_opened_total", _C, "Tickets opened."),
    MetricSpec(
        "posfleet_tickets_reopened_total",
        _C,
        "Closed tickets reopened because their fault fired again within the window.",
    ),
    MetricSpec(
        "posfleet_tickets_closed_total",
        _C,
        "Tickets closed, by reason (resolved: after the grace period; manual: by a person).",
        labels=("reason",),
        label_values=(("reason", CLOSE_REASONS),),
    ),
    MetricSpec(
        "posfleet_tickets_outbound_calls_total",
        _C,
        "HTTP calls to ticketing systems, by system and result "
        "(ok, timeout, error, http_<status>).",
        labels=("system", "result"),
    ),
    MetricSpec(
        "posfleet_tickets_outbox_given_up_total",
        _C,
        "Ticket changes no longer retried (permanent error or too many attempts), by system.",
        labels=("system",),
    ),
    MetricSpec(
        "posfleet_tickets_outbox_queue_depth",
        _G,
        "Ticket changes waiting to be pushed, per ticketing system.",
        labels=("system",),
    ),
    MetricSpec(
        "posfleet_tickets",
        _G,
        "Tickets in the store, per status and team (the team label of the alert that "
        "opened the ticket; empty when it had none).",
        labels=("status", "team"),
        label_values=(("status", TICKET_STATUSES),),
    ),
    MetricSpec(
        "posfleet_tickets_store_errors_total",
        _C,
        "Ticket store operations that failed because the database did not answer, by "
        "operation (webhook, api, outbox, background, scrape).",
        labels=("operation",),
        label_values=(("operation", STORE_OPERATIONS),),
    ),
)
"""Every family :class:`~posfleet.alerts.bridge.metrics.BridgeMetrics` exposes."""
