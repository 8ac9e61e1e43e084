"""The latest snapshot of every terminal ingest has heard of, with health from freshness.

Exporters read it through the same views as the collector's
:class:`~posfleet.collector.state.FleetState` (``terminals()``, ``terminal(id)``,
``health_counts()``), so the Prometheus exposition serves either one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from posfleet.collector.clock import Clock, SystemClock
from posfleet.collector.state import Health, SourceView, TerminalIdentity, TerminalView
from posfleet.telemetry import StatusSnapshot

SOURCE_DRIVER = "ingest"
STALE = "stale"


@dataclass(slots=True)
class _Latest:
    snapshot: StatusSnapshot
    received_at: datetime
    received_monotonic: float
    online_view: TerminalView | None = None
    """Built on first use: while the terminal is fresh its view does not change, and the
    Prometheus exposition asks for all 20,000 views every few seconds."""


class LatestSnapshots:
    """Per terminal, the snapshot with the newest ``observed_at`` received so far.

    A terminal is online while its last snapshot arrived less than ``stale_after_seconds``
    ago, offline (reason ``stale``) after that. With several copies of ingest sharing the
    load, each copy holds the terminals' latest snapshots *it* received.
    """

    def __init__(self, stale_after_seconds: float, clock: Clock | None = None) -> None:
        self._stale_after = stale_after_seconds
        self._clock = clock or SystemClock()
        self._latest: dict[str, _Latest] = {}

    def __len__(self) -> int:
        return len(self._latest)

    def __contains__(self, terminal_id: object) -> bool:
        return terminal_id in self._latest

    def record(self, snapshot: StatusSnapshot) -> bool:
        """Keep ``snapshot`` unless a newer one is kept already (redelivered or late)."""
        return self.record_all((snapshot,)) == 1

    def record_all(self, snapshots: Iterable[StatusSnapshot]) -> int:
        """:meth:`record` for snapshots received together (one clock reading); returns how
        many were kept."""
        received_at, received_monotonic = self._clock.now(), self._clock.monotonic()
        latest = self._latest
        kept_count = 0
        for snapshot in snapshots:
            kept = latest.get(snapshot.terminal_id)
            if kept is not None and kept.snapshot.observed_at > snapshot.observed_at:
                continue
            latest[snapshot.terminal_id] = _Latest(snapshot, received_at, received_monotonic)
            kept_count += 1
        return kept_count

    def _health(self, latest: _Latest, now: float) -> tuple[Health, str | None]:
        age = now - latest.received_monotonic
        if age < self._stale_after:
            return Health.ONLINE, None
        return Health.OFFLINE, f"{STALE}: no snapshot for {age:.0f} s"

    def _view(self, latest: _Latest, now: float) -> TerminalView:
        if now - latest.received_monotonic < self._stale_after:
            if latest.online_view is None:
                latest.online_view = self._build_view(latest, Health.ONLINE, None)
            return latest.online_view
        return self._build_view(latest, *self._health(latest, now))

    @staticmethod
    def _build_view(latest: _Latest, health: Health, reason: str | None) -> TerminalView:
        snapshot = latest.snapshot
        return TerminalView(
            identity=TerminalIdentity(
                snapshot.terminal_id,
                snapshot.merchant_id,
                snapshot.store_id,
                snapshot.region,
                snapshot.serial,
                snapshot.model,
                snapshot.vendor,
            ),
            health=health,
            reason=reason,
            last_seen=latest.received_at,
            sources=(
                SourceView(
                    snapshot.collector_id or SOURCE_DRIVER,
                    SOURCE_DRIVER,
                    latest.received_at,
                    0,
                    None,
                ),
            ),
            snapshot=snapshot,
        )

    def terminal(self, terminal_id: str) -> TerminalView:
        """The current view of one terminal (KeyError if nothing was received from it)."""
        return self._view(self._latest[terminal_id], self._clock.monotonic())

    def terminals(self) -> Iterator[TerminalView]:
        """Views of every terminal, in order of first arrival."""
        now = self._clock.monotonic()
        for latest in self._latest.values():
            yield self._view(latest, now)

    def health_counts(self) -> dict[Health, int]:
        now = self._clock.monotonic()
        counts = Counter(self._health(latest, now)[0] for latest in self._latest.values())
        return {health: counts.get(health, 0) for health in Health}
