"""The terminal metrics as a prometheus_client custom collector.

It builds the catalogue's terminal families from the current views on every ``collect()``:
the straightforward path, for registries and tools that want metric families. The
collector's ``/metrics`` serves the same content faster from
:class:`~posfleet.exporters.prometheus.render.TerminalExposition`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from posfleet.collector.state import TerminalView
from posfleet.exporters.catalogue import TERMINAL_METRICS, MetricSpec, MetricType
from posfleet.exporters.prometheus.samples import identity_label_values, terminal_samples


def _family(spec: MetricSpec) -> CounterMetricFamily | GaugeMetricFamily:
    if spec.type is MetricType.COUNTER:
        return CounterMetricFamily(spec.family_name, spec.help, labels=spec.labels)
    return GaugeMetricFamily(spec.family_name, spec.help, labels=spec.labels)


class TerminalCollector(Collector):
    """Builds every terminal metric family from ``views()`` (e.g. ``FleetState.terminals``)."""

    def __init__(self, views: Callable[[], Iterable[TerminalView]]) -> None:
        self._views = views

    def collect(self) -> Iterator[Metric]:
        families = [_family(spec) for spec in TERMINAL_METRICS]
        for view in self._views():
            identity = identity_label_values(view)
            for index, own_values, value in terminal_samples(view):
                families[index].add_metric((*identity, *own_values), value)
        yield from families
