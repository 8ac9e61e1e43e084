"""The catalogue follows the naming rules, and every component's exposition matches it."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from posfleet.collector.metrics import CollectorMetrics, CollectorStats
from posfleet.collector.state import Health
from posfleet.exporters.buffer import BufferStats
from posfleet.exporters.catalogue import (
    CATALOGUE,
    Catalogue,
    DuplicateMetric,
    MetricSpec,
    MetricType,
    exposition_problems,
)
from posfleet.exporters.prometheus.docs import generated_files
from posfleet.exporters.remote_write.metrics import RemoteWriteMetrics, RemoteWriteStats

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.mark.parametrize("spec", list(CATALOGUE), ids=lambda spec: spec.name)
def test_every_metric_follows_the_naming_rules(spec: MetricSpec) -> None:
    assert spec.problems() == []
    assert spec.help.strip()


def test_a_name_cannot_be_registered_twice() -> None:
    catalogue = Catalogue()
    catalogue.register("a", [MetricSpec("posfleet_a_total", MetricType.COUNTER, "A.")])
    with pytest.raises(DuplicateMetric, match="posfleet_a_total"):
        catalogue.register("b", [MetricSpec("posfleet_a_total", MetricType.COUNTER, "A.")])


def test_the_checker_reports_unknown_metrics_wrong_types_and_labels() -> None:
    specs = [
        MetricSpec(
            "posfleet_x",
            MetricType.GAUGE,
            "X.",
            labels=("state",),
            label_values=(("state", ("on", "off")),),
        )
    ]
    text = "# TYPE posfleet_x counter\nposfleet_x_total 1\n# TYPE posfleet_y gauge\nposfleet_y 1\n"
    problems = exposition_problems(text, specs)
    assert "posfleet_y: not in the catalogue" in problems
    assert any("type counter" in problem for problem in problems)
    assert exposition_problems('# TYPE posfleet_x gauge\nposfleet_x{state="dim"} 1\n', specs)


def test_the_collector_self_metrics_match_the_catalogue() -> None:
    stats = CollectorStats()
    stats.record_poll("http", None, duration=0.1, lag=0.01)
    stats.record_poll("http", "timeout", duration=2.0, lag=0.01)
    stats.count_bad_input("mqtt", "malformed")
    registry = CollectorRegistry()
    registry.register(CollectorMetrics(stats, lambda: dict.fromkeys(Health, 1)))
    text = generate_latest(registry).decode()
    assert exposition_problems(text, CATALOGUE.component("collector"), require_all=True) == []


def test_the_remote_write_self_metrics_match_the_catalogue() -> None:
    stats = RemoteWriteStats()
    stats.samples_sent = 10
    stats.samples_failed["http_5xx"] = 3
    stats.samples_dropped["rejected"] = 2
    registry = CollectorRegistry()
    registry.register(RemoteWriteMetrics(stats, lambda: BufferStats(1, 100, 2, 300, 0)))
    text = generate_latest(registry).decode()
    assert exposition_problems(text, CATALOGUE.component("remote_write"), require_all=True) == []


@pytest.mark.parametrize("relative", sorted(generated_files()))
def test_the_committed_metrics_reference_matches_the_catalogue(relative: str) -> None:
    committed = DOCS / relative
    assert committed.read_text(encoding="utf-8") == generated_files()[relative], (
        f"docs/{relative} is out of date: run "
        "`.venv/bin/python -m posfleet.exporters.prometheus.docs docs`"
    )
