"""Fast text exposition of the terminal metrics, with a per-terminal cache.

Rendering 500,000 samples through prometheus_client takes seconds, but between two scrapes
most terminals have not changed: a terminal's views are frozen and its snapshot object is
replaced on every new read, so the pair (snapshot object, health, last seen) tells whether
its text can be reused. Each terminal's text is kept per metric family, because the text
format wants all samples of a family together under one ``# HELP``/``# TYPE`` header; a
scrape is then one join of cached strings. The output is byte for byte what
``generate_latest`` makes of :class:`~posfleet.exporters.prometheus.collector.TerminalCollector`
(a test holds the two together).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Final, cast

from prometheus_client.utils import floatToGoString

from posfleet.collector.state import Health, TerminalView
from posfleet.exporters.catalogue import IDENTITY_LABELS, TERMINAL_METRICS, MetricSpec
from posfleet.exporters.prometheus.samples import identity_label_values, terminal_samples
from posfleet.telemetry import StatusSnapshot


def escape_label_value(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _header(spec: MetricSpec) -> str:
    help_text = spec.help.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {spec.name} {help_text}\n# TYPE {spec.name} {spec.type}\n"


format_value = cast(Callable[[float], str], floatToGoString)
"""A sample value as prometheus_client writes it (Go's float formatting)."""

_HEADERS: Final = tuple(_header(spec) for spec in TERMINAL_METRICS)
_FAMILIES: Final = len(TERMINAL_METRICS)


@dataclass(slots=True)
class _Entry:
    """A terminal's rendered text, and what it was rendered from."""

    snapshot: StatusSnapshot | None
    health: Health
    last_seen: datetime | None
    chunks: tuple[str, ...]

    def fits(self, view: TerminalView) -> bool:
        return (
            self.snapshot is view.snapshot
            and self.health is view.health
            and self.last_seen == view.last_seen
        )


def _label_plan(spec: MetricSpec) -> tuple[tuple[str, bool, int], ...]:
    """Labels in exposition (sorted) order: (name, is an identity label, position)."""
    places = [(name, True, i) for i, name in enumerate(IDENTITY_LABELS)]
    places += [(name, False, i) for i, name in enumerate(spec.own_labels)]
    return tuple(sorted(places))


_LABEL_PLANS: Final = tuple(_label_plan(spec) for spec in TERMINAL_METRICS)
_NAMES: Final = tuple(spec.name for spec in TERMINAL_METRICS)
_COMMON_VALUES: Final = {0.0: "0.0", 1.0: "1.0"}


def render_terminal(view: TerminalView) -> tuple[str, ...]:
    """One terminal's sample lines, one string per terminal metric family ("" if none)."""
    identity = tuple(escape_label_value(value) for value in identity_label_values(view))
    by_name = sorted(zip(IDENTITY_LABELS, identity, strict=True))
    plain = "{" + ",".join(f'{name}="{value}"' for name, value in by_name) + "}"
    lines: list[list[str]] = [[] for _ in range(_FAMILIES)]
    for index, own_values, value in terminal_samples(view):
        if own_values:
            own = tuple(escape_label_value(own_value) for own_value in own_values)
            pairs = (
                f'{name}="{identity[at] if is_identity else own[at]}"'
                for name, is_identity, at in _LABEL_PLANS[index]
            )
            label_text = "{" + ",".join(pairs) + "}"
        else:
            label_text = plain
        text = _COMMON_VALUES.get(value) or format_value(value)
        lines[index].append(f"{_NAMES[index]}{label_text} {text}\n")
    return tuple("".join(family) for family in lines)


@dataclass(frozen=True, slots=True)
class RenderStats:
    """What the last render did."""

    terminals: int
    rendered: int
    """Terminals whose text was (re)built; the others came from the cache."""


class TerminalExposition:
    """The terminal metrics in the Prometheus text format 0.0.4, cached per terminal.

    ``views`` returns the current terminal views (``FleetState.terminals``); it is called
    on the event loop, and the text is built in a worker thread from the frozen views.
    """

    def __init__(self, views: Callable[[], Iterable[TerminalView]]) -> None:
        self._views = views
        self._cache: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self.last = RenderStats(0, 0)

    def _refresh(self, views: Sequence[TerminalView]) -> dict[str, _Entry]:
        """Bring the cache up to date with ``views``; the caller holds the lock."""
        cache: dict[str, _Entry] = {}
        rendered = 0
        for view in views:
            terminal_id = view.identity.terminal_id
            entry = self._cache.get(terminal_id)
            if entry is None or not entry.fits(view):
                chunks = render_terminal(view)
                entry = _Entry(view.snapshot, view.health, view.last_seen, chunks)
                rendered += 1
            cache[terminal_id] = entry
        self._cache = cache
        self.last = RenderStats(len(cache), rendered)
        return cache

    def refresh(self, views: Sequence[TerminalView]) -> None:
        """Render what changed since the last refresh, without building the exposition."""
        with self._lock:
            self._refresh(views)

    def render(self, views: Sequence[TerminalView]) -> bytes:
        """The exposition of ``views`` (thread-safe; reuses unchanged terminals' text)."""
        with self._lock:
            every = [entry.chunks for entry in self._refresh(views).values()]
            parts: list[str] = []
            for index, header in enumerate(_HEADERS):
                parts.append(header)
                parts.extend(map(itemgetter(index), every))
            return "".join(parts).encode("utf-8")

    def render_current(self) -> bytes:
        """Render the views ``views()`` returns now, in the calling thread."""
        return self.render(list(self._views()))

    async def exposition(self) -> bytes:
        """Render the current views without holding up the event loop for the text."""
        views = list(self._views())
        return await asyncio.to_thread(self.render, views)

    async def keep_warm(self, interval_seconds: float) -> None:
        """Render changed terminals every ``interval_seconds`` until cancelled, so that a
        scrape (even the first one after start) only joins text that is already built."""
        while True:
            views = list(self._views())
            await asyncio.to_thread(self.refresh, views)
            await asyncio.sleep(interval_seconds)

    def cached_bytes(self) -> int:
        """Characters of text held in the cache (ASCII: bytes), for sizing."""
        return sum(len(chunk) for entry in self._cache.values() for chunk in entry.chunks)
