"""The web app's metric families, for the metric catalogue (kept free of FastAPI imports)."""

from __future__ import annotations

from typing import Final

from posfleet.exporters.metric_spec import MetricSpec, MetricType

LOGIN_FAILURE_REASONS: Final = ("bad_credentials", "bad_csrf", "invalid_input")
RATE_LIMITED_BY: Final = ("username", "address")
REQUEST_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)

WEB_METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(
        "posfleet_web_requests_total",
        MetricType.COUNTER,
        "HTTP requests answered by the web app, by route template, method and status code.",
        labels=("route", "method", "status"),
    ),
    MetricSpec(
        "posfleet_web_request_duration_seconds",
        MetricType.HISTOGRAM,
        "Time to answer a request, by route template.",
        unit="seconds",
        labels=("route",),
    ),
    MetricSpec(
        "posfleet_web_login_failures_total",
        MetricType.COUNTER,
        "Failed sign-ins, by reason (wrong user name or password, missing form token, "
        "malformed form).",
        labels=("reason",),
        label_values=(("reason", LOGIN_FAILURE_REASONS),),
    ),
    MetricSpec(
        "posfleet_web_logins_rate_limited_total",
        MetricType.COUNTER,
        "Sign-in attempts refused because too many failed for the user name or the client "
        "address within the window.",
        labels=("by",),
        label_values=(("by", RATE_LIMITED_BY),),
    ),
    MetricSpec(
        "posfleet_web_invalid_input_total",
        MetricType.COUNTER,
        "Requests refused for bad input (query parameters, forms, JSON bodies), by route.",
        labels=("route",),
    ),
    MetricSpec(
        "posfleet_web_tickets_unavailable_total",
        MetricType.COUNTER,
        "Calls to the ticket bridge that failed (not reachable, error, unexpected answer).",
    ),
)
