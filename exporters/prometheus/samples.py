"""Turn one terminal's view into samples, as the catalogue's terminal metrics describe them.

Both the text exposition and remote-write read samples from here, so the two agree. A value
the terminal did not report yields no sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Final

from posfleet.collector.state import Health, TerminalView
from posfleet.exporters.catalogue import (
    HEALTH_STATES,
    TERMINAL_METRICS,
    Conversion,
    MetricSpec,
)

TerminalSample = tuple[int, tuple[str, ...], float]
"""(index of the metric in TERMINAL_METRICS, values of its own labels, value)."""

_VIEW_PREFIX: Final = "view."
_IDENTITY_FALLBACK: Final = frozenset({"vendor", "model", "serial"})


def _date_timestamp(value: date) -> float:
    return datetime.combine(value, time(0, 0), tzinfo=UTC).timestamp()


_SCALARS: Final[dict[Conversion, Callable[[Any], float]]] = {
    Conversion.NUMBER: float,
    Conversion.FLAG: lambda value: 1.0 if value else 0.0,
    Conversion.MILLISECONDS: lambda value: value / 1000.0,
    Conversion.PERCENT: lambda value: value / 100.0,
    Conversion.DATE: _date_timestamp,
    Conversion.TIME: lambda value: value.timestamp(),
}


@dataclass(frozen=True, slots=True)
class _Read:
    """One series to read: metric index, where from, own label values."""

    index: int
    spec: MetricSpec
    view_field: str | None
    component: str | None
    field: str
    label_values: tuple[str, ...]


def _plan() -> tuple[tuple[_Read, ...], dict[str | None, tuple[_Read, ...]]]:
    """Reads from the view, and reads from the snapshot grouped by component (None: top)."""
    view_reads: list[_Read] = []
    by_component: dict[str | None, list[_Read]] = {}
    for index, spec in enumerate(TERMINAL_METRICS):
        if spec.conversion is Conversion.INFO:
            continue
        for source in spec.sources:
            if source.field.startswith(_VIEW_PREFIX):
                view_field = source.field.removeprefix(_VIEW_PREFIX)
                view_reads.append(_Read(index, spec, view_field, None, "", source.label_values))
                continue
            component, _, field = source.field.rpartition(".")
            read = _Read(index, spec, None, component or None, field, source.label_values)
            by_component.setdefault(read.component, []).append(read)
    return tuple(view_reads), {name: tuple(reads) for name, reads in by_component.items()}


_VIEW_READS, _SNAPSHOT_READS = _plan()
_INFO_INDEX: Final = next(
    index for index, spec in enumerate(TERMINAL_METRICS) if spec.conversion is Conversion.INFO
)


def _emit(read: _Read, value: Any, out: list[TerminalSample]) -> None:
    conversion = read.spec.conversion
    if conversion is Conversion.STATE:
        (states,) = (values for _, values in read.spec.label_values)
        current = str(value)
        out.extend((read.index, (state,), 1.0 if state == current else 0.0) for state in states)
    elif conversion is Conversion.HEALTH:
        current = str(value)
        out.extend(
            (read.index, (state,), 1.0 if state == current else 0.0) for state in HEALTH_STATES
        )
    elif conversion is Conversion.UP:
        if value is not Health.UNKNOWN:
            out.append((read.index, (), 0.0 if value is Health.OFFLINE else 1.0))
    else:
        out.append((read.index, read.label_values, _SCALARS[conversion](value)))


def _info_labels(view: TerminalView) -> tuple[str, ...]:
    info = TERMINAL_METRICS[_INFO_INDEX]
    snapshot = view.snapshot
    values = []
    for source in info.sources:
        (label,) = source.label_values
        value: Any = None
        if snapshot is not None:
            value = snapshot
            for part in source.field.split("."):
                value = getattr(value, part, None)
                if value is None:
                    break
        if value is None and label in _IDENTITY_FALLBACK:
            value = getattr(view.identity, label)
        values.append("" if value is None else str(value))
    return tuple(values)


def terminal_samples(view: TerminalView) -> list[TerminalSample]:
    """Every sample of one terminal, in catalogue order within each source group."""
    out: list[TerminalSample] = [(_INFO_INDEX, _info_labels(view), 1.0)]
    for read in _VIEW_READS:
        value = getattr(view, read.view_field or "")
        if value is not None:
            _emit(read, value, out)
    snapshot = view.snapshot
    if snapshot is None:
        return out
    for component, reads in _SNAPSHOT_READS.items():
        part = snapshot if component is None else getattr(snapshot, component)
        if part is None:
            continue
        for read in reads:
            value = getattr(part, read.field)
            if value is not None:
                _emit(read, value, out)
    return out


def identity_label_values(view: TerminalView) -> tuple[str, str, str, str]:
    """Values of the identity labels (terminal, store, merchant, region) of a terminal."""
    identity = view.identity
    return (identity.terminal_id, identity.store_id, identity.merchant_id, identity.region or "")
