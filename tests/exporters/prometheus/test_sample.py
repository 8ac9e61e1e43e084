"""The sample configuration snippet loads."""

from __future__ import annotations

from pathlib import Path

from posfleet.config import parse_config

SAMPLE = Path(__file__).resolve().parents[3] / "exporters" / "prometheus" / "sample.yml"


def test_the_sample_config_loads() -> None:
    config = parse_config(SAMPLE.read_text(encoding="utf-8"))
    assert config.collector.listen == "0.0.0.0:9464"
