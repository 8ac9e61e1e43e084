"""The exporter's terminal samples, compiled once for the replay.

:func:`posfleet.exporters.prometheus.samples.terminal_samples` builds a list of samples per
terminal per scrape and dispatches on each metric's conversion; the replay does that for
every terminal at every step of the history, so the reads the rules need are compiled once.
A scalar read (number, flag, milliseconds, percent, date, time) keeps its field, the
exporter's conversion and a slot: the index of its series among the terminal's series.
Reads that give several samples or none (state, health, up) go through the exporter's own
``_emit``. Same reads, same conversions, same order as the exporter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from posfleet.collector.state import TerminalView
from posfleet.exporters.catalogue import TERMINAL_METRICS, Conversion
from posfleet.exporters.prometheus import samples as exporter_samples

_SCALAR_CONVERSIONS: Final = frozenset(exporter_samples._SCALARS)


@dataclass(frozen=True, slots=True)
class Read:
    """One planned read: where the value is, how it becomes a sample, which series."""

    field: str
    convert: Callable[[Any], float] | None
    """The exporter's conversion; None for reads that go through its ``_emit``."""
    slot: int
    """Scalar reads: index of the series in :attr:`TerminalPlan.slots` (else -1)."""
    dense: bool
    read: Any
    """The exporter's read (``posfleet.exporters.prometheus.samples._Read``)."""


@dataclass(frozen=True, slots=True)
class TerminalPlan:
    info: bool
    view_reads: tuple[Read, ...]
    snapshot_reads: tuple[tuple[str | None, tuple[Read, ...]], ...]
    """Per component of the snapshot (None: its top level), in the exporter's order."""
    slots: tuple[tuple[int, tuple[str, ...]], ...]
    """The scalar reads' series: (index in TERMINAL_METRICS, own label values)."""


def terminal_plan(names: frozenset[str], dense: frozenset[str]) -> TerminalPlan:
    """The exporter's read plan, restricted to the metric names the rules need."""
    wanted = {i for i, spec in enumerate(TERMINAL_METRICS) if spec.name in names}
    slots: list[tuple[int, tuple[str, ...]]] = []

    def compile_read(read: Any, field: str) -> Read:
        spec = read.spec
        is_dense = spec.name in dense
        if spec.conversion not in _SCALAR_CONVERSIONS:
            return Read(field, None, -1, is_dense, read)
        slots.append((read.index, read.label_values))
        convert = exporter_samples._SCALARS[spec.conversion]
        return Read(field, convert, len(slots) - 1, is_dense, read)

    view_reads = tuple(
        compile_read(r, r.view_field or "")
        for r in exporter_samples._VIEW_READS
        if r.index in wanted
    )
    snapshot_reads = tuple(
        (component, tuple(compile_read(r, r.field) for r in kept))
        for component, reads in exporter_samples._SNAPSHOT_READS.items()
        if (kept := tuple(r for r in reads if r.index in wanted))
    )
    return TerminalPlan(
        exporter_samples._INFO_INDEX in wanted, view_reads, snapshot_reads, tuple(slots)
    )


def _info_sources() -> tuple[tuple[tuple[str, ...], str, bool], ...]:
    info = TERMINAL_METRICS[exporter_samples._INFO_INDEX]
    assert info.conversion is Conversion.INFO
    sources = []
    for source in info.sources:
        (label,) = source.label_values
        fallback = label in exporter_samples._IDENTITY_FALLBACK
        sources.append((tuple(source.field.split(".")), label, fallback))
    return tuple(sources)


_INFO_SOURCES: Final = _info_sources()


def info_labels(view: TerminalView) -> tuple[str, ...]:
    """:func:`posfleet.exporters.prometheus.samples._info_labels` with the field paths split
    once."""
    snapshot = view.snapshot
    values = []
    for path, label, fallback in _INFO_SOURCES:
        value: Any = snapshot
        if value is not None:
            for part in path:
                value = getattr(value, part, None)
                if value is None:
                    break
        if value is None and fallback:
            value = getattr(view.identity, label)
        values.append("" if value is None else str(value))
    return tuple(values)
