"""Configuration files: every problem reported at once, each with its path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from posfleet.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "deploy" / "fleet.example.yml"

BROKEN = """\
merchants:
  - id: acme
    name: ACME
stores:
  - id: S-1
    merchant: acmee
    name: Mitte
    region: north
    terminals:
      - id: T-1
        driver: escpso
      - id: T-2
        driver: http
        connection: {url: not-a-url, tokn: x}
      - id: T-1
        driver: escpos
        connection: {port: /dev/ttyUSB0}
        interval_seconds: -3
        extra_sources:
          - driver: escpos
            connection: {baudrate: 1234}
collector:
  interval_secs: 3
  timeout_seconds: fast
influxdb: {api: v2}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "fleet.yml")
    return caught.value.messages()


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert len(config.terminals()) >= 4
    drivers = {terminal.driver for _, terminal in config.terminals()}
    assert drivers == {"escpos", "http", "mqtt"}


def test_every_problem_is_reported_with_path_and_line() -> None:
    assert problems(BROKEN) == [
        "fleet.yml:6: stores[0].merchant: unknown merchant 'acmee' (known: acme)",
        "fleet.yml:11: stores[0].terminals[0].driver: unknown driver 'escpso' "
        "(known: escpos, http, mqtt)",
        "fleet.yml:14: stores[0].terminals[1].connection.url: Input should be a valid URL, "
        "relative URL without a base",
        "fleet.yml:14: stores[0].terminals[1].connection.tokn: unknown key "
        "(misspelt, or not valid here)",
        "fleet.yml:15: stores[0].terminals[2].id: terminal id 'T-1' is used twice in the fleet",
        "fleet.yml:18: stores[0].terminals[2].interval_seconds: Input should be greater than 0",
        "fleet.yml:21: stores[0].terminals[2].extra_sources[0].connection.port: Field required",
        "fleet.yml:21: stores[0].terminals[2].extra_sources[0].connection.baudrate: "
        "Input should be 9600, 19200, 38400, 57600 or 115200",
        "fleet.yml:23: collector.interval_secs: unknown key (misspelt, or not valid here)",
        "fleet.yml:24: collector.timeout_seconds: Input should be a valid number, "
        "unable to parse string as a number",
        "fleet.yml:25: influxdb: api v2 needs both 'org' and 'bucket'",
    ]


def test_duplicate_keys_are_errors_not_silently_overwritten() -> None:
    assert problems("merchants: []\nstores: []\nmerchants: []\n") == [
        "fleet.yml:3: merchants: key appears twice; the second would win"
    ]


def test_yaml_syntax_error_names_the_line() -> None:
    assert problems("stores:\n  - id: [S-1\n") == [
        "fleet.yml:3: not valid YAML: expected ',' or ']', but got '<stream end>'"
    ]


def test_a_file_that_is_not_a_mapping_is_refused() -> None:
    assert problems("- just\n- a list\n") == ["fleet.yml: the file must be a mapping of sections"]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yml")
    assert "cannot read the file" in caught.value.messages()[0]


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSFLEET_MQTT__PASSWORD", "s3cret")
    config = parse_config("mqtt: {username: posfleet}\n")
    assert config.mqtt.username == "posfleet"
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config)


def test_empty_file_gives_defaults() -> None:
    config = parse_config("")
    assert config.terminals() == []
    assert config.collector.interval_seconds == 15.0
