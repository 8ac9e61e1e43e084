"""From range-query results to alerts (``for``, ``keep_firing_for``) and to tickets (the
ticket bridge's key, close grace and reopen window).

Prometheus' rule manager, per alert (one per label set of the expression's result):

* present at an evaluation and not active: pending since then; it fires at the first
  evaluation at least ``for`` after that (at once when ``for`` is 0);
* absent while pending: dropped; absent while firing: with ``keep_firing_for`` it keeps
  firing until an evaluation at least ``keep_firing_for`` after the first absent one, else it
  resolves at the first absent evaluation.

The bridge (alerts/bridge/store.py), per ticket key (``alerts.bridge.keys.ticket_key``):
a firing alert opens a ticket, or reopens the key's last ticket when that closed less than
``reopen_window`` ago; a resolved alert schedules the close ``close_grace`` later; firing
again before then keeps the ticket open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from posfleet.alerts.bridge.keys import ticket_key
from posfleet.alerts.bridge.store import Policy
from posfleet.backtest.rules import AlertRule
from posfleet.backtest.tsdb import Series

DEFAULT_POLICY: Final = Policy()


@dataclass(frozen=True, slots=True)
class Firing:
    """One alert firing from ``start`` to ``end`` (None: still firing at the end)."""

    rule: AlertRule
    labels: dict[str, str]
    pending_since: int
    start: int
    end: int | None


def firings(rule: AlertRule, series: Series, step: int, last: int) -> list[Firing]:
    """The firings of one alert (one series of the rule's expression)."""
    out: list[Firing] = []
    labels = rule.alert_labels(series.labels)
    present = set(series.times)
    if not present:
        return out
    times = range(min(present), last + step, step)
    pending: int | None = None
    firing: int | None = None
    absent_since: int | None = None
    for at in times:
        if at in present:
            absent_since = None
            if firing is None:
                if pending is None:
                    pending = at
                if at - pending >= rule.for_seconds:
                    firing = at
            continue
        if firing is None:
            pending = None
            continue
        if absent_since is None:
            absent_since = at
        if at - absent_since >= rule.keep_firing_for_seconds:
            assert pending is not None
            out.append(Firing(rule, labels, pending, firing, at))
            pending = firing = absent_since = None
    if firing is not None:
        assert pending is not None
        out.append(Firing(rule, labels, pending, firing, None))
    return out


@dataclass
class Ticket:
    """A ticket the bridge would have opened, with every span it was open."""

    key: str
    alertname: str
    component: str
    terminal: str
    store: str
    merchant: str
    opened: int
    spans: list[tuple[int, int | None]] = field(default_factory=list)
    """(opened or reopened, closed) per span; closed None: open at the end."""
    alerts: int = 0

    @property
    def reopened(self) -> int:
        return len(self.spans) - 1

    @property
    def closed(self) -> int | None:
        return self.spans[-1][1]


def _active(items: list[Firing]) -> list[tuple[int, int | None]]:
    """The union of the firing intervals of one key (end None: still firing)."""
    merged: list[tuple[int, int | None]] = []
    for item in sorted(items, key=lambda f: f.start):
        if merged:
            start, end = merged[-1]
            if end is None or item.start <= end:
                later = None if end is None or item.end is None else max(end, item.end)
                merged[-1] = (start, later)
                continue
        merged.append((item.start, item.end))
    return merged


def tickets(
    all_firings: Iterable[Firing], last: int, policy: Policy = DEFAULT_POLICY
) -> list[Ticket]:
    """Apply the bridge's dedupe, close grace and reopen window to the firings; ``last`` is
    the last evaluation (a close due after it leaves the ticket open)."""
    grace = round(policy.close_grace / timedelta(seconds=1))
    reopen = round(policy.reopen_window / timedelta(seconds=1))
    by_key: dict[str, list[Firing]] = {}
    for item in all_firings:
        by_key.setdefault(ticket_key(item.labels).key, []).append(item)
    out: list[Ticket] = []
    for key, items in by_key.items():
        first = min(items, key=lambda f: (f.start, f.rule.source)).labels
        current: Ticket | None = None
        span_start = 0
        close_at: int | None = None
        for start, end in _active(items):
            if current is not None and close_at is not None and start >= close_at:
                current.spans.append((span_start, close_at))
                if start - close_at >= reopen:
                    current = None
                span_start = start
            if current is None:
                current = Ticket(
                    key,
                    first.get("alertname", ""),
                    first.get("component", ""),
                    first.get("terminal", ""),
                    first.get("store", ""),
                    first.get("merchant", ""),
                    start,
                )
                out.append(current)
                span_start = start
            close_at = None if end is None else end + grace
        if current is not None:
            current.spans.append(
                (span_start, close_at if close_at is not None and close_at <= last else None)
            )
        for ticket in (t for t in out if t.key == key):
            ticket.alerts = len(items)
    out.sort(key=lambda t: (t.opened, t.key))
    return out


def evaluate(
    rules: Sequence[AlertRule],
    results: Sequence[Sequence[Series]],
    step: int,
    last: int,
) -> list[Firing]:
    out: list[Firing] = []
    for rule, series_list in zip(rules, results, strict=True):
        for series in series_list:
            out += firings(rule, series, step, last)
    return out
