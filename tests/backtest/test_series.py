"""The replay's terminal samples are the Prometheus exporter's (it compiles the exporter's
read plan instead of calling it for every terminal at every step)."""

from __future__ import annotations

from posfleet.backtest.history import HistoryStats, open_trace, read_trace
from posfleet.backtest.series import SeriesWriter
from posfleet.config.loader import load_config
from posfleet.exporters.catalogue import IDENTITY_LABELS, TERMINAL_METRICS
from posfleet.exporters.prometheus import samples as exporter_samples
from posfleet.exporters.prometheus.render import escape_label_value
from tests.backtest.conftest import History

TERMINAL_NAMES = frozenset(spec.name for spec in TERMINAL_METRICS)


def _exporter_lines(writer: SeriesWriter, at: int) -> set[str]:
    lines = set()
    for view in writer.latest.terminals():
        identity = exporter_samples.identity_label_values(view)
        for index, own_values, value in exporter_samples.terminal_samples(view):
            spec = TERMINAL_METRICS[index]
            labels = [*zip(IDENTITY_LABELS, identity, strict=True)]
            labels += zip(spec.own_labels, own_values, strict=True)
            text = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sorted(labels))
            lines.add(f"{spec.name}{{{text}}} {value!r} {at}")
    return lines


def _replay(
    history: History, dense: frozenset[str], *, first_step_only: bool
) -> tuple[SeriesWriter, dict[int, str]]:
    """The writer and its steps' text; its state is that of the last step it wrote (with no
    reorder window, a step is written when the first record of a later step arrives)."""
    emitted: dict[int, str] = {}
    stats = HistoryStats()
    writer = SeriesWriter(
        load_config(history.config),
        TERMINAL_NAMES,
        emitted.__setitem__,
        stats,
        dense=dense,
        reorder_seconds=0.0,
    )
    for record in read_trace(open_trace(history.trace), stats):
        writer.add(record)
        if first_step_only and emitted:
            return writer, emitted
    writer.finish()
    return writer, emitted


def test_every_sample_of_a_step_is_the_exporters(small_history: History) -> None:
    writer, emitted = _replay(small_history, TERMINAL_NAMES, first_step_only=False)
    at = max(emitted)
    assert set(emitted[at].splitlines()) == _exporter_lines(writer, at)


def test_first_step_of_instant_only_series_is_the_exporters(small_history: History) -> None:
    writer, emitted = _replay(small_history, frozenset(), first_step_only=True)
    (at,) = emitted
    assert set(emitted[at].splitlines()) == _exporter_lines(writer, at)
