"""The sample ``alerting`` section loads through the config parser."""

from __future__ import annotations

from pathlib import Path

from posfleet.config.loader import parse_config

SAMPLE = Path(__file__).resolve().parents[3] / "exporters" / "derived" / "sample.yml"


def test_the_sample_alerting_section_loads() -> None:
    config = parse_config(SAMPLE.read_text(), str(SAMPLE))
    assert config.alerting.baseline_versions == {"payment_app": "5.4.0", "emv_kernel": "4.1"}
    assert config.alerting.paper_near_end_lines_by_model == {"TM-T88VI": 400}
