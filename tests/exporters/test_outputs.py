"""The outputs a configuration asks for are built for the right process."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from posfleet.config import parse_config
from posfleet.exporters.influxdb.sink import InfluxDbSink
from posfleet.exporters.mqtt_uplink.sink import MqttUplinkSink
from posfleet.exporters.outputs import CaseEngineOutput, build_outputs


def config_text(tmp_path: Path, detect_cases_in: str | None) -> str:
    cases = f"detect_cases_in: {detect_cases_in}, " if detect_cases_in else ""
    return (
        f"buffer: {{directory: {tmp_path / 'buffer'}}}\n"
        "influxdb: {url: 'http://127.0.0.1:1', database: posfleet}\n"
        "uplink: {url: 'mqtt://127.0.0.1:1'}\n"
        f"payments: {{{cases}database: {tmp_path / 'cases.sqlite3'}}}\n"
        f"tickets: {{database: {tmp_path / 'tickets.sqlite3'}}}\n"
    )


def kinds(
    tmp_path: Path, role: Literal["collector", "ingest"], detect_cases_in: str | None
) -> list[type]:
    config = parse_config(config_text(tmp_path, detect_cases_in))
    return [type(sink) for sink in build_outputs(config, role=role).sinks]


def test_the_edge_uplinks_and_ingest_does_not(tmp_path: Path) -> None:
    assert kinds(tmp_path, "collector", None) == [InfluxDbSink, MqttUplinkSink]
    assert kinds(tmp_path, "ingest", None) == [InfluxDbSink]


def test_case_detection_runs_only_where_configured(tmp_path: Path) -> None:
    assert CaseEngineOutput in kinds(tmp_path, "ingest", "ingest")
    assert CaseEngineOutput not in kinds(tmp_path, "collector", "ingest")
    assert CaseEngineOutput in kinds(tmp_path, "collector", "collector")
