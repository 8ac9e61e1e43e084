"""The output's folder: sample configuration and self-metrics follow the conventions."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from posfleet.config import parse_config
from posfleet.exporters.catalogue import exposition_problems
from posfleet.exporters.influxdb import InfluxDbSink
from posfleet.exporters.influxdb.metrics import INFLUXDB_METRICS
from tests.exporters.influxdb.support import (
    FakeInfluxDB,
    make_sink,
    no_content,
    snapshot,
    v1_settings,
)

FOLDER = Path(__file__).parents[3] / "exporters" / "influxdb"


def test_sample_config_loads() -> None:
    config = parse_config((FOLDER / "sample.yml").read_text(), "influxdb/sample.yml")
    assert config.influxdb is not None
    assert config.influxdb.api == "v1"
    sink = InfluxDbSink.from_config(config)
    assert sink.settings.database == "posfleet"


def test_readme_has_the_conventional_sections() -> None:
    readme = (FOLDER / "README.md").read_text()
    for section in ("## Configuration", "## Metrics", "## Troubleshooting", "## Example Output"):
        assert section in readme
    for spec in INFLUXDB_METRICS:
        assert spec.name in readme, f"{spec.name} is not documented"


def test_every_metric_spec_follows_the_naming_rules() -> None:
    assert [problem for spec in INFLUXDB_METRICS for problem in spec.problems()] == []


async def test_self_metrics_match_the_catalogue_and_count_what_happened(tmp_path: Path) -> None:
    async def handler(request: object, body: bytes) -> object:
        return no_content()

    fake = FakeInfluxDB(handler)  # type: ignore[arg-type]
    async with fake.running():
        sink = make_sink(v1_settings(fake.url, "db"), tmp_path)
        registry = CollectorRegistry()
        registry.register(sink.metrics())
        for index in range(5):
            await sink.publish(snapshot(index))
        await sink.close()
    text = generate_latest(registry).decode()
    assert exposition_problems(text, INFLUXDB_METRICS, require_all=True) == []
    assert "posfleet_influxdb_points_sent_total 15.0" in text
    assert "posfleet_influxdb_buffered_batches 0.0" in text
    assert 'posfleet_influxdb_points_dropped_total{reason="bad_point"} 0.0' in text
