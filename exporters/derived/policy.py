"""The fleet policy from ``alerting`` in the config, as metric samples for the rules."""

from __future__ import annotations

from typing import Final

from posfleet.config.models import AlertingSettings

POLICY_THRESHOLDS: Final = (
    "paper_time_to_empty_warning_seconds",
    "acquirer_timeout_seconds",
    "acquirer_latency_warning_seconds",
    "packet_loss_max_ratio",
    "signal_min_dbm",
    "signal_drop_warning_db",
    "link_flaps_max_per_hour",
    "sim_data_warning_seconds",
    "security_patch_max_age_seconds",
    "certificate_warning_seconds",
    "key_warning_seconds",
    "clock_skew_max_seconds",
    "battery_health_min_ratio",
    "data_stale_seconds",
    "card_read_failure_max_ratio",
    "qr_decode_failure_max_ratio",
    "touch_errors_max_per_hour",
    "printer_faults_max_per_hour",
    "transaction_failure_max_ratio",
    "operator_error_max_ratio",
    "pending_reversal_max_age_seconds",
)
"""Settings exported as ``posfleet_policy_threshold{name=...}``; the name carries the unit."""


def policy_thresholds(settings: AlertingSettings) -> list[tuple[str, float]]:
    """(name, value) of every exported threshold."""
    return [(name, float(getattr(settings, name))) for name in POLICY_THRESHOLDS]
