"""The escpos driver folder as a plug-in: entry point, factory, sample config, README."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

import posfleet.collector.drivers.escpos as escpos_package
from posfleet.collector.driver import DriverContext, installed_drivers
from posfleet.collector.drivers.escpos import PLUGIN, EscposSettings
from posfleet.collector.drivers.escpos.driver import EscposDriver
from posfleet.config import parse_config

FOLDER = Path(escpos_package.__file__).parent
CONTEXT = DriverContext(terminal_id="T-0451", merchant_id="acme", store_id="S-012")


def test_plugin_is_installed_under_its_name_and_builds_a_driver() -> None:
    plugin = installed_drivers()["escpos"]
    assert plugin is PLUGIN
    assert plugin.create is not None
    driver = plugin.create(EscposSettings(port="socket://127.0.0.1:9"), CONTEXT)
    assert isinstance(driver, EscposDriver)
    assert driver.settings.port == "socket://127.0.0.1:9"


def test_sample_config_is_a_valid_configuration() -> None:
    terminals: list[dict[str, Any]] = yaml.safe_load((FOLDER / "sample.yml").read_text())
    document = {
        "merchants": [{"id": "acme", "name": "Acme"}],
        "stores": [
            {
                "id": "S-012",
                "merchant": "acme",
                "name": "Acme Mitte",
                "region": "north",
                "terminals": terminals,
            }
        ],
    }
    config = parse_config(yaml.safe_dump(document), source="sample.yml")
    parsed = [terminal for _, terminal in config.terminals()]
    assert [terminal.driver for terminal in parsed] == ["escpos"] * len(terminals)
    for terminal in parsed:
        EscposSettings.model_validate(terminal.connection)


def test_readme_documents_every_setting_and_the_required_sections() -> None:
    readme = (FOLDER / "README.md").read_text()
    for section in ("## Configuration", "## Metrics", "## Troubleshooting", "## Example Output"):
        assert section in readme
    for setting in EscposSettings.model_fields:
        assert f"`{setting}`" in readme
