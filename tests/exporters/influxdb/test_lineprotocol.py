"""Snapshots and transactions become the documented line protocol, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from posfleet.exporters.influxdb.lineprotocol import (
    LineProtocolSerializer,
    escape_tag,
    quote_string,
)
from posfleet.exporters.influxdb.schema import (
    COMPONENTS,
    NOT_WRITTEN,
    TERMINAL,
    TRANSACTION_FIELDS,
    TRANSACTION_TAGS,
)
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from tests.exporters.influxdb.support import snapshot

TESTDATA = Path(__file__).parents[3] / "exporters" / "influxdb" / "testdata"
CASES = sorted(path.stem for path in TESTDATA.glob("*.json"))


def serialise(case: str) -> str:
    document = json.loads((TESTDATA / f"{case}.json").read_text())
    serializer = LineProtocolSerializer()
    if "status" in document:
        lines = serializer.snapshot_lines(StatusSnapshot.model_validate(document["status"]))
    else:
        event = TransactionEvent.model_validate(document["transaction"])
        lines = [serializer.transaction_line(event)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case: str) -> None:
    expected = (TESTDATA / f"{case}.lp").read_text()
    assert serialise(case) == expected


def test_there_are_golden_cases() -> None:
    assert {"full_snapshot", "minimal_snapshot", "transaction_timeout"} <= set(CASES)


def test_absent_values_and_components_are_not_written() -> None:
    lines = LineProtocolSerializer().snapshot_lines(
        snapshot(printer={"paper": "out"}, system=None, network={})
    )
    assert [line.split(",", 1)[0] for line in lines] == ["posfleet_terminal", "posfleet_printer"]
    assert ' paper="out" ' in lines[1]
    assert "online" not in lines[1]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_numbers_line_protocol_cannot_carry_are_left_out(value: float) -> None:
    lines = LineProtocolSerializer().snapshot_lines(
        snapshot(firmware={"clock_skew_seconds": value, "os_version": "9"})
    )
    firmware = next(line for line in lines if line.startswith("posfleet_firmware,"))
    assert firmware.split(" ")[1] == 'os_version="9"'


def test_tag_escaping() -> None:
    assert escape_tag("T-0451") == "T-0451"
    assert escape_tag("a b,c=d") == "a\\ b\\,c\\=d"
    assert escape_tag("two\nlines") == "two\\ lines"
    assert escape_tag("ends\\") == "ends\\\\"


def test_string_escaping() -> None:
    assert quote_string('say "hi"') == '"say \\"hi\\""'
    assert quote_string("C:\\path") == '"C:\\\\path"'
    assert quote_string("a\r\nb") == '"a b"'


def test_awkward_terminal_ids_are_escaped_in_tags() -> None:
    # Validation keeps such ids out; a plug-in building snapshots without it must not
    # produce broken lines all the same.
    raw = snapshot().model_copy(update={"terminal_id": "T 1,x=y", "store_id": "S=1"})
    line = LineProtocolSerializer().snapshot_lines(raw)[0]
    assert line.startswith(
        "posfleet_terminal,merchant=acme,region=north,store=S\\=1,terminal=T\\ 1\\,x\\=y "
    )


def _fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_every_telemetry_field_is_mapped_or_deliberately_left_out() -> None:
    mapped = {name for name, _ in TERMINAL.fields} | set(NOT_WRITTEN)
    for measurement in COMPONENTS:
        mapped.add(measurement.component)
        component = StatusSnapshot.model_fields[measurement.component].annotation
        nested = next(arg for arg in component.__args__ if arg is not type(None))  # type: ignore[union-attr]
        assert _fields(nested) == {name for name, _ in measurement.fields}, measurement.name
    assert _fields(StatusSnapshot) <= mapped
    event_mapped = {name for name, _ in TRANSACTION_FIELDS}
    event_mapped |= {attribute for _, attribute in TRANSACTION_TAGS} | set(NOT_WRITTEN)
    assert _fields(TransactionEvent) <= event_mapped
