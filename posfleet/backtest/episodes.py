"""Fault episodes: runs of failed transactions on one terminal (or store) that a component
caused, from the simulator's ground truth or, on real history, from the events' errors.

Components are the simulator's vocabulary (``posfleet.simulator.faults.FAULT_COMPONENTS``):
printer, card_reader, screen, qr_scanner, network, acquirer, system, firmware. Alerts name
components in their own words; :data:`ALERT_COMPONENTS` says which episodes each warns of.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from posfleet.backtest.history import HistoryStats
from posfleet.telemetry import TransactionEvent

DEVICE_COMPONENTS: Final = frozenset({"printer", "card_reader", "screen", "qr_scanner"})
NETWORK_COMPONENTS: Final = frozenset({"network"})
ALERT_COMPONENTS: Final[dict[str, frozenset[str]]] = {
    "printer": frozenset({"printer"}),
    "screen": frozenset({"screen"}),
    "card_reader": frozenset({"card_reader"}),
    "qr_scanner": frozenset({"qr_scanner"}),
    "network": frozenset({"network"}),
    "store": frozenset({"network"}),
    "gateway": frozenset({"acquirer"}),
    "payments_device": DEVICE_COMPONENTS,
    "payments_network": frozenset({"network"}),
    "payments_gateway_outage": frozenset({"acquirer"}),
    "payments_terminal_config": frozenset({"firmware"}),
    "certificate": frozenset({"firmware"}),
    "battery": frozenset({"system"}),
    "terminal": frozenset({"system"}),
}
"""Alert ``component`` label -> episode components it warns of (others: none)."""
LOCAL_ERRORS: Final[dict[str, str]] = {
    "printer_paper_out": "printer",
    "printer_fault": "printer",
    "card_read_error": "card_reader",
    "qr_decode_error": "qr_scanner",
    "pin_entry_timeout": "screen",
    "low_battery": "system",
    "tls_error": "firmware",
    "network_down": "network",
    "host_unreachable": "network",
    "network_timeout": "network",
}
"""A failed event's ``local_error`` -> the component it points at (history without truth)."""
GATEWAY_CODES: Final = frozenset({"91", "96"})
FAILED: Final = frozenset({"failed", "timeout", "declined"})


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Episode:
    """A run of failed transactions at one place caused by one component."""

    component: str
    terminal: str
    """Empty for a store-wide episode (store uplink, acquirer gateway)."""
    store: str
    merchant: str
    first_failure: float
    last_failure: float
    failures: int
    fault_id: str | None = None
    fault_kind: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Fault:
    """A ground-truth fault (for the false-ticket share)."""

    id: str
    kind: str
    component: str
    terminal: str
    store: str
    merchant: str
    start: float
    end: float | None


@dataclass
class GroundTruth:
    faults: list[Fault]
    episodes: list[Episode]


def read_ground_truth(lines: Iterable[str], stats: HistoryStats | None = None) -> GroundTruth:
    """Faults, and one episode per fault and place from the failed transactions naming it
    (a store's or merchant's fault: one episode per store)."""
    faults: dict[str, Fault] = {}
    runs: dict[tuple[str, str], Episode] = {}
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
            kind = record["type"]
            if kind == "fault":
                faults[record["id"]] = Fault(
                    record["id"], record["kind"], record["component"],
                    record.get("terminal_id") or "", record.get("store_id") or "",
                    record["merchant_id"], _ts(record["start"]),
                    _ts(record["end"]) if record.get("end") else None,
                )  # fmt: skip
            elif kind == "failed_transaction" and record.get("fault_id"):
                at = _ts(record["occurred_at"])
                fault_id = record["fault_id"]
                key = (fault_id, record["store_id"])
                episode = runs.get(key)
                if episode is None:
                    runs[key] = Episode(
                        "", record["terminal_id"], record["store_id"], record["merchant_id"],
                        at, at, 1, fault_id, record.get("fault_kind"),
                    )  # fmt: skip
                else:
                    episode.first_failure = min(episode.first_failure, at)
                    episode.last_failure = max(episode.last_failure, at)
                    episode.failures += 1
        except (ValueError, KeyError, TypeError) as exc:
            if stats is not None:
                stats.add(number, "ground_truth", f"ground truth line unusable: {exc!r}")
    episodes = []
    for (fault_id, _store), episode in runs.items():
        fault = faults.get(fault_id)
        if fault is None:
            continue  # the fault's own line is missing: nothing to say what it was
        episode.component = fault.component
        if not fault.terminal:
            episode.terminal = ""
        episodes.append(episode)
    episodes.sort(key=lambda e: (e.first_failure, e.store, e.terminal, e.component))
    return GroundTruth(sorted(faults.values(), key=lambda f: (f.start, f.id)), episodes)


def component_of(event: TransactionEvent) -> str | None:
    """The component a failed event points at, from its error (None: not a fault)."""
    if event.outcome.value not in FAILED:
        return None
    if event.host_response_code in GATEWAY_CODES:
        return "acquirer"
    error = event.local_error
    return None if error is None else LOCAL_ERRORS.get(str(error.value))


class EpisodeInference:
    """Episodes from transaction events alone: failures of one component on one terminal
    (the gateway: per store) at most ``gap`` seconds apart, at least ``min_failures`` of
    them (single failures are mostly the card's or customer's fault, not the terminal's)."""

    def __init__(self, gap_seconds: float = 1800.0, min_failures: int = 3) -> None:
        self.gap = gap_seconds
        self.min_failures = min_failures
        self._open: dict[tuple[str, str], Episode] = {}
        self.done: list[Episode] = []

    def observe(self, event: TransactionEvent) -> None:
        component = component_of(event)
        if component is None or event.reversal_state is not None:
            return
        at = event.occurred_at.timestamp()
        terminal = "" if component == "acquirer" else event.terminal_id
        key = (terminal or event.store_id, component)
        episode = self._open.get(key)
        if episode is not None and at - episode.last_failure <= self.gap:
            episode.first_failure = min(episode.first_failure, at)
            episode.last_failure = max(episode.last_failure, at)
            episode.failures += 1
            return
        if episode is not None:
            self._close(episode)
        self._open[key] = Episode(
            component, terminal, event.store_id, event.merchant_id, at, at, 1
        )

    def _close(self, episode: Episode) -> None:
        if episode.failures >= self.min_failures:
            self.done.append(episode)

    def episodes(self) -> list[Episode]:
        for episode in self._open.values():
            self._close(episode)
        self._open.clear()
        self.done.sort(key=lambda e: (e.first_failure, e.store, e.terminal, e.component))
        return self.done


def infer_episodes(records: Iterator[TransactionEvent], **options: Any) -> list[Episode]:
    inference = EpisodeInference(**options)
    for event in sorted(records, key=lambda e: e.occurred_at):
        inference.observe(event)
    return inference.episodes()


def read_ground_truth_file(path: Path, stats: HistoryStats | None = None) -> GroundTruth:
    with path.open(encoding="utf-8", errors="replace") as handle:
        return read_ground_truth(handle, stats)
