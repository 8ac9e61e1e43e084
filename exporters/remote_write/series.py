"""The series remote-write sends: every terminal sample plus the self-metrics, each with its
labels already encoded.

Terminal series come from the same samples as ``/metrics``
(:func:`~posfleet.exporters.prometheus.samples.terminal_samples`) and are cached per
terminal on the identity of its snapshot, like the text exposition, so an unchanged
terminal costs a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.registry import Collector

from posfleet.collector.state import Health, TerminalView
from posfleet.exporters.catalogue import IDENTITY_LABELS, TERMINAL_METRICS
from posfleet.exporters.prometheus.samples import identity_label_values, terminal_samples
from posfleet.exporters.remote_write.protobuf import encode_labels
from posfleet.telemetry import StatusSnapshot

EncodedSeries = tuple[bytes, float]
"""(encoded labels of a TimeSeries, current value)."""


@dataclass(slots=True)
class _Entry:
    snapshot: StatusSnapshot | None
    health: Health
    last_seen: datetime | None
    series: list[EncodedSeries]

    def fits(self, view: TerminalView) -> bool:
        return (
            self.snapshot is view.snapshot
            and self.health is view.health
            and self.last_seen == view.last_seen
        )


def terminal_series(view: TerminalView, extra_labels: Mapping[str, str]) -> list[EncodedSeries]:
    identity = dict(zip(IDENTITY_LABELS, identity_label_values(view), strict=True))
    out = []
    for index, own_values, value in terminal_samples(view):
        spec = TERMINAL_METRICS[index]
        labels = {**extra_labels, **identity, **dict(zip(spec.own_labels, own_values, strict=True))}
        out.append((encode_labels(spec.name, labels), value))
    return out


def registry_series(registry: Collector, extra_labels: Mapping[str, str]) -> list[EncodedSeries]:
    """Every sample of a prometheus_client collector or registry (histograms included)."""
    return [
        (encode_labels(sample.name, {**extra_labels, **sample.labels}), sample.value)
        for family in registry.collect()
        for sample in family.samples
    ]


class TerminalSeries:
    """Current series of the terminals, cached per terminal (thread-safe for one caller:
    views are frozen). ``extra_labels`` (job, instance) go on every series."""

    def __init__(self, extra_labels: Mapping[str, str]) -> None:
        self._extra = dict(extra_labels)
        self._cache: dict[str, _Entry] = {}

    def collect(self, views: Iterable[TerminalView]) -> list[EncodedSeries]:
        cache: dict[str, _Entry] = {}
        series: list[EncodedSeries] = []
        for view in views:
            terminal_id = view.identity.terminal_id
            entry = self._cache.get(terminal_id)
            if entry is None or not entry.fits(view):
                entry = _Entry(
                    view.snapshot, view.health, view.last_seen, terminal_series(view, self._extra)
                )
            cache[terminal_id] = entry
            series.extend(entry.series)
        self._cache = cache
        return series


def batches(series: Sequence[EncodedSeries], size: int) -> Iterable[Sequence[EncodedSeries]]:
    """``series`` in slices of at most ``size``."""
    for start in range(0, len(series), size):
        yield series[start : start + size]
