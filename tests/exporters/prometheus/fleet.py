"""A FleetState filled with terminals that reported a given status, for exporter tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from posfleet.collector.driver import Reading
from posfleet.collector.state import FleetState, TerminalIdentity
from posfleet.exporters.prometheus.docs import FULL_STATUS
from posfleet.telemetry import StatusSnapshot
from posfleet.telemetry.base import TelemetryModel

COMPONENTS: Final = (
    "printer",
    "screen",
    "card_reader",
    "qr_scanner",
    "network",
    "firmware",
    "system",
)
SEEN_AT: Final = datetime(2026, 11, 25, 10, 42, 5, tzinfo=UTC)


def reading(status: dict[str, Any]) -> Reading:
    snapshot = StatusSnapshot.model_validate(status)
    parts: dict[str, TelemetryModel] = {}
    for name in COMPONENTS:
        part = getattr(snapshot, name)
        if part is not None:
            parts[name] = part
    return Reading(snapshot.observed_at, parts)


def identity(index: int) -> TerminalIdentity:
    return TerminalIdentity(
        f"T-{index:05d}", "acme", f"S-{index // 4:04d}", "north", f"SN{index}", "A920", "PAX"
    )


def fleet(count: int, status: dict[str, Any] | None = None) -> FleetState:
    """``count`` terminals (4 per store), each with one source that read ``status``."""
    state = FleetState("edge-test", offline_after_failures=3)
    good = reading(status or FULL_STATUS)
    for index in range(count):
        state.add_terminal(identity(index), [("http", "http")])
        state.record_success(f"T-{index:05d}", 0, good, SEEN_AT)
    return state
