"""What the collector knows about each terminal: merged snapshot, health, source freshness.

A terminal may have several sources (its own HTTP status plus the receipt printer on the
register's serial port). Each source's last good components are kept, and the terminal's
snapshot is the merge of the components of every source that is not offline, stamped with
the inventory's identity and this collector's id. Exporters read it through
:meth:`FleetState.terminals` and :meth:`FleetState.terminal`, which return frozen views.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from posfleet.collector.driver import Reading
from posfleet.collector.inputs import DEVICE_FIELDS
from posfleet.telemetry import StatusSnapshot
from posfleet.telemetry.base import TelemetryModel


class Health(StrEnum):
    """A terminal's health as the collector sees it."""

    UNKNOWN = "unknown"
    """Not read yet."""
    ONLINE = "online"
    """Every source answered its last poll with good data."""
    DEGRADED = "degraded"
    """Some source failed or sent refused data (see the reason); the rest still answers."""
    OFFLINE = "offline"
    """Every source failed ``offline_after_failures`` polls in a row without answering."""


@dataclass(frozen=True, slots=True)
class TerminalIdentity:
    """Who a terminal is, from the inventory (config) file."""

    terminal_id: str
    merchant_id: str
    store_id: str
    region: str | None = None
    serial: str | None = None
    model: str | None = None
    vendor: str | None = None


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """Why the last poll of a source failed."""

    reason: str
    message: str
    at: datetime
    bad_input: bool
    """The source answered, but what it sent was refused (it is reachable)."""


@dataclass(frozen=True, slots=True)
class SourceView:
    """Read-only freshness and error of one source."""

    label: str
    driver: str
    last_good_at: datetime | None
    consecutive_failures: int
    problem: SourceProblem | None


@dataclass(frozen=True, slots=True)
class TerminalView:
    """Read-only state of one terminal, for exporters and status pages."""

    identity: TerminalIdentity
    health: Health
    reason: str | None
    """Why the terminal is degraded or offline, e.g. ``printer (escpos): no_answer``."""
    last_seen: datetime | None
    """Last time any source answered with good data."""
    sources: tuple[SourceView, ...]
    snapshot: StatusSnapshot | None


@dataclass(slots=True)
class _Source:
    label: str
    driver: str
    parts: Mapping[str, TelemetryModel] = field(default_factory=dict)
    device: Mapping[str, str] = field(default_factory=dict)
    observed_at: datetime | None = None
    last_good_at: datetime | None = None
    consecutive_failures: int = 0
    problem: SourceProblem | None = None


@dataclass(slots=True)
class _Terminal:
    identity: TerminalIdentity
    sources: list[_Source]
    snapshot: StatusSnapshot | None = None


def _valid_device_value(value: str) -> bool:
    return 0 < len(value) <= 64


class FleetState:
    """Health and merged snapshot of every terminal this collector polls."""

    def __init__(self, collector_id: str, offline_after_failures: int) -> None:
        self._collector_id = collector_id
        self._offline_after = offline_after_failures
        self._terminals: dict[str, _Terminal] = {}

    def add_terminal(self, identity: TerminalIdentity, sources: Sequence[tuple[str, str]]) -> None:
        """Register a terminal with its sources as ``(label, driver)``, primary first."""
        self._terminals[identity.terminal_id] = _Terminal(
            identity, [_Source(label, driver) for label, driver in sources]
        )

    def __contains__(self, terminal_id: object) -> bool:
        return terminal_id in self._terminals

    def __len__(self) -> int:
        return len(self._terminals)

    def record_success(
        self, terminal_id: str, source_index: int, reading: Reading, at: datetime
    ) -> StatusSnapshot | None:
        """Store a good read and return the terminal's new merged snapshot.

        Returns None if the merged snapshot is invalid (a device reported an identity
        value the contract refuses); the read still counts as good.
        """
        terminal = self._terminals[terminal_id]
        source = terminal.sources[source_index]
        source.parts = reading.parts
        source.device = reading.device
        source.observed_at = reading.observed_at
        source.last_good_at = at
        source.consecutive_failures = 0
        source.problem = None
        terminal.snapshot = self._merge(terminal)
        return terminal.snapshot

    def record_failure(
        self,
        terminal_id: str,
        source_index: int,
        reason: str,
        message: str,
        at: datetime,
        *,
        bad_input: bool = False,
    ) -> None:
        """Store a failed poll (or refused data, with ``bad_input``)."""
        terminal = self._terminals[terminal_id]
        source = terminal.sources[source_index]
        source.consecutive_failures += 1
        source.problem = SourceProblem(reason, message, at, bad_input)
        if source.consecutive_failures == self._offline_after:
            # Its components are too old to stand for the present: drop them.
            terminal.snapshot = self._merge(terminal)

    def _contributing(self, source: _Source) -> bool:
        return source.observed_at is not None and (
            source.consecutive_failures < self._offline_after
        )

    def _merge(self, terminal: _Terminal) -> StatusSnapshot | None:
        sources = [source for source in terminal.sources if self._contributing(source)]
        if not sources:
            return None
        identity = terminal.identity
        data: dict[str, Any] = {
            "terminal_id": identity.terminal_id,
            "merchant_id": identity.merchant_id,
            "store_id": identity.store_id,
            "region": identity.region,
            "collector_id": self._collector_id,
            "observed_at": max(s.observed_at for s in sources if s.observed_at is not None),
        }
        for name in DEVICE_FIELDS:
            configured = getattr(identity, name)
            reported = (
                source.device[name]
                for source in sources
                if _valid_device_value(source.device.get(name, ""))
            )
            data[name] = configured or next(reported, None)
        # Primary source first: if two sources report the same component, the primary wins.
        for source in reversed(sources):
            data.update(source.parts)
        try:
            return StatusSnapshot.model_validate(data)
        except ValidationError:
            return None

    def _health(self, terminal: _Terminal) -> tuple[Health, str | None]:
        sources = terminal.sources
        if all(s.last_good_at is None and s.problem is None for s in sources):
            return Health.UNKNOWN, None
        problems = [s for s in sources if s.problem is not None]
        if not problems:
            return Health.ONLINE, None
        offline = all(
            s.problem is not None
            and not s.problem.bad_input
            and s.consecutive_failures >= self._offline_after
            for s in sources
        )
        reason = "; ".join(
            f"{s.label}: {s.problem.reason}" for s in problems if s.problem is not None
        )
        return (Health.OFFLINE if offline else Health.DEGRADED), reason

    def _view(self, terminal: _Terminal) -> TerminalView:
        health, reason = self._health(terminal)
        seen = [s.last_good_at for s in terminal.sources if s.last_good_at is not None]
        return TerminalView(
            identity=terminal.identity,
            health=health,
            reason=reason,
            last_seen=max(seen) if seen else None,
            sources=tuple(
                SourceView(s.label, s.driver, s.last_good_at, s.consecutive_failures, s.problem)
                for s in terminal.sources
            ),
            snapshot=terminal.snapshot,
        )

    def terminal(self, terminal_id: str) -> TerminalView:
        """The current view of one terminal (KeyError if it is not in the inventory)."""
        return self._view(self._terminals[terminal_id])

    def terminals(self) -> Iterator[TerminalView]:
        """Views of every terminal, in inventory order."""
        for terminal in self._terminals.values():
            yield self._view(terminal)

    def health_counts(self) -> dict[Health, int]:
        """How many terminals are in each health state (every state present, maybe 0)."""
        counts = Counter(self._health(terminal)[0] for terminal in self._terminals.values())
        return {health: counts.get(health, 0) for health in Health}
