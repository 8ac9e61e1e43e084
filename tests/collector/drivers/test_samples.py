"""Each driver's sample.yml is valid configuration (wrapped in a minimal fleet)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from posfleet.config import parse_config

DRIVERS = Path(__file__).parents[3] / "collector" / "drivers"


@pytest.mark.parametrize("driver", ["http", "mqtt"])
def test_sample_config_is_valid(driver: str) -> None:
    terminals = yaml.safe_load((DRIVERS / driver / "sample.yml").read_text())
    fleet = {
        "merchants": [{"id": "acme", "name": "ACME"}],
        "stores": [
            {"id": "S-1", "merchant": "acme", "name": "S", "region": "r", "terminals": terminals}
        ],
    }
    config = parse_config(yaml.safe_dump(fleet), f"{driver}/sample.yml")
    assert {terminal.driver for _, terminal in config.terminals()} == {driver}
