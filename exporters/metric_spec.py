"""Metric specifications: what a metric family is, a catalogue of them, and a check of an
exposition against them.

These are the building blocks of :mod:`posfleet.exporters.catalogue`. Components that define
their own metric specs import from here, never from the catalogue, so the catalogue can
import every component's specs without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from prometheus_client.parser import text_string_to_metric_families

PREFIX: Final = "posfleet_"
IDENTITY_LABELS: Final = ("terminal", "store", "merchant", "region")
"""Labels every per-terminal series carries, so rules aggregate per store without joins."""

UNITS: Final = frozenset({"", "seconds", "bytes", "ratio", "dbm"})


class MetricType(StrEnum):
    """Exposition type of a family (text format 0.0.4)."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


class Conversion(StrEnum):
    """How a telemetry value becomes a sample value (base units, booleans as 0/1)."""

    NUMBER = "number"
    """Taken as it is."""
    FLAG = "flag"
    """``true`` -> 1, ``false`` -> 0."""
    MILLISECONDS = "milliseconds"
    """Milliseconds -> seconds."""
    PERCENT = "percent"
    """0-100 percent -> 0-1 ratio."""
    DATE = "date"
    """A calendar date -> Unix timestamp of its midnight UTC."""
    TIME = "time"
    """An RFC 3339 time -> Unix timestamp."""
    STATE = "state"
    """An enumeration -> one series per state (label ``state``), 1 for the current one."""
    HEALTH = "health"
    """The collector's health of the terminal -> state set over its health states."""
    UP = "up"
    """The collector's health -> 1 when online or degraded, 0 when offline."""
    INFO = "info"
    """Static attributes and versions as labels of a series whose value is 1."""
    NONE = ""
    """Not a terminal metric (self-metrics)."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where one series of a terminal metric comes from.

    ``field`` is a path into the status snapshot (``printer.paper_cuts_total``) or, after
    ``view.``, into the collector's view of the terminal (``view.last_seen``).
    ``label_values`` are the values of the metric's own labels (after the identity labels)
    for this series; for an info metric, the label the field's value goes to.
    """

    field: str
    label_values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric family as exposed (counters include the ``_total`` suffix)."""

    name: str
    type: MetricType
    help: str
    unit: str = ""
    labels: tuple[str, ...] = ()
    """Label names, in exposition order of documentation (the exposition sorts them)."""
    label_values: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Closed sets of values of enumerated labels, e.g. ``(("state", ("ok", "out")),)``;
    labels not listed here take open values (driver names, reasons, identities)."""
    sources: tuple[Source, ...] = ()
    """Terminal metrics: the telemetry fields the series come from."""
    conversion: Conversion = Conversion.NONE

    @property
    def family_name(self) -> str:
        """The name prometheus_client and its parser use (counters without ``_total``)."""
        if self.type is MetricType.COUNTER:
            return self.name.removesuffix("_total")
        return self.name

    @property
    def own_labels(self) -> tuple[str, ...]:
        """Labels besides the identity labels of a terminal metric."""
        return tuple(label for label in self.labels if label not in IDENTITY_LABELS)

    def max_series_per_label_set(self) -> int | None:
        """Series per identity (terminal) when every enumerated label takes every value;
        None when a label takes open values."""
        known = dict(self.label_values)
        count = 1
        for label in self.own_labels:
            if label not in known:
                return None
            if self.conversion is not Conversion.INFO:
                count *= len(known[label])
        return count

    def problems(self) -> list[str]:
        """Naming rules the spec breaks (empty when it follows them)."""
        found = []
        if not self.name.startswith(PREFIX):
            found.append(f"{self.name}: does not start with {PREFIX}")
        if (self.type is MetricType.COUNTER) != self.name.endswith("_total"):
            found.append(f"{self.name}: counters and only counters end in _total")
        if self.unit not in UNITS:
            found.append(f"{self.name}: unit '{self.unit}' is not one of {sorted(UNITS)}")
        base = self.name.removesuffix("_total")
        if self.unit and not (base.endswith(f"_{self.unit}") or f"_{self.unit}_" in base):
            found.append(f"{self.name}: name does not carry its unit '{self.unit}'")
        if self.conversion is Conversion.INFO and not self.name.endswith("_info"):
            found.append(f"{self.name}: info metrics end in _info")
        if len(set(self.labels)) != len(self.labels):
            found.append(f"{self.name}: duplicate label names")
        for label, _ in self.label_values:
            if label not in self.labels:
                found.append(f"{self.name}: values given for unknown label '{label}'")
        return found


class DuplicateMetric(ValueError):
    """Two components registered the same metric name."""


class Catalogue:
    """Every metric, grouped by the component that exposes it."""

    def __init__(self) -> None:
        self._components: dict[str, tuple[MetricSpec, ...]] = {}
        self._by_name: dict[str, MetricSpec] = {}

    def register(self, component: str, specs: Iterable[MetricSpec]) -> None:
        """Add a component's metrics; a name already registered raises DuplicateMetric."""
        specs = tuple(specs)
        if component in self._components:
            raise DuplicateMetric(f"component '{component}' is already registered")
        for spec in specs:
            if spec.name in self._by_name:
                raise DuplicateMetric(f"metric {spec.name} is already registered")
        self._components[component] = specs
        self._by_name.update((spec.name, spec) for spec in specs)

    def components(self) -> tuple[str, ...]:
        return tuple(self._components)

    def component(self, name: str) -> tuple[MetricSpec, ...]:
        """The metrics of one component (KeyError if it registered none)."""
        return self._components[name]

    def metric(self, name: str) -> MetricSpec:
        """A metric by its exposed name (counters with ``_total``); KeyError if unknown."""
        return self._by_name[name]

    def __iter__(self) -> Iterator[MetricSpec]:
        for specs in self._components.values():
            yield from specs

    def __len__(self) -> int:
        return len(self._by_name)


def exposition_problems(
    text: str, specs: Iterable[MetricSpec], *, require_all: bool = False
) -> list[str]:
    """What in a text exposition disagrees with ``specs`` (empty when it matches).

    Every family must be in ``specs`` with the same type and every sample must carry
    exactly the spec's labels (plus ``le`` on histogram buckets); enumerated labels must
    take listed values. With ``require_all``, every spec must appear with samples.
    """
    by_family = {spec.family_name: spec for spec in specs}
    problems: list[str] = []
    seen: set[str] = set()
    for family in text_string_to_metric_families(text):
        spec = by_family.get(family.name)
        if spec is None:
            problems.append(f"{family.name}: not in the catalogue")
            continue
        if family.type != spec.type:
            problems.append(f"{spec.name}: type {family.type}, catalogue says {spec.type}")
        if family.samples:
            seen.add(family.name)
        allowed = dict(spec.label_values)
        for sample in family.samples:
            expected = set(spec.labels)
            if sample.name.endswith("_bucket") and spec.type is MetricType.HISTOGRAM:
                expected.add("le")
            if set(sample.labels) != expected:
                problems.append(
                    f"{sample.name}: labels {sorted(sample.labels)}, "
                    f"catalogue says {sorted(expected)}"
                )
            for label, values in allowed.items():
                if values and sample.labels.get(label) not in values:
                    problems.append(
                        f"{sample.name}: {label}={sample.labels.get(label)!r} is not one of "
                        f"{list(values)}"
                    )
    if require_all:
        problems += [
            f"{spec.name}: missing from the exposition"
            for name, spec in by_family.items()
            if name not in seen
        ]
    return problems
