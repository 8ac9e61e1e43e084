"""ESC/POS status bytes: every bit of DLE EOT 1..4 and of ASB, fixed bits, round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from posfleet.collector.drivers.escpos import protocol
from posfleet.collector.drivers.escpos.protocol import (
    AsbStatus,
    ErrorCauseByte,
    OfflineCauseByte,
    PrinterByte,
    RollPaperByte,
    StatusByteError,
    StatusKind,
    decode_asb,
    decode_real_time,
    encode_asb,
    encode_real_time,
)
from posfleet.telemetry import PaperState, PrinterStatus

GOLDEN = Path(protocol.__file__).parent / "testdata" / "golden.json"

REAL_TIME_BASE = 0b0001_0010
"""A DLE EOT answer with only its fixed bits (bit 1 and bit 4 set)."""
ASB_BASE = (0b0001_0000, 0, 0, 0)
"""An ASB message with only its fixed bits (bit 4 of the first byte)."""

# (decoder, bit mask, field the mask sets): every defined bit of every status byte.
REAL_TIME_BITS: list[tuple[Any, int, str]] = [
    (PrinterByte.decode, 1 << 2, "drawer_pin3_high"),
    (PrinterByte.decode, 1 << 3, "offline"),
    (PrinterByte.decode, 1 << 5, "waiting_for_online_recovery"),
    (PrinterByte.decode, 1 << 6, "feed_button_pressed"),
    (OfflineCauseByte.decode, 1 << 2, "cover_open"),
    (OfflineCauseByte.decode, 1 << 3, "paper_fed_by_button"),
    (OfflineCauseByte.decode, 1 << 5, "stopped_by_paper_end"),
    (OfflineCauseByte.decode, 1 << 6, "error_occurred"),
    (ErrorCauseByte.decode, 1 << 2, "recoverable_error"),
    (ErrorCauseByte.decode, 1 << 3, "autocutter_error"),
    (ErrorCauseByte.decode, 1 << 5, "unrecoverable_error"),
    (ErrorCauseByte.decode, 1 << 6, "auto_recoverable_error"),
    (RollPaperByte.decode, 0b0000_1100, "near_end"),
    (RollPaperByte.decode, 0b0000_0100, "near_end"),
    (RollPaperByte.decode, 0b0000_1000, "near_end"),
    (RollPaperByte.decode, 0b0110_0000, "paper_end"),
    (RollPaperByte.decode, 0b0010_0000, "paper_end"),
    (RollPaperByte.decode, 0b0100_0000, "paper_end"),
]

# (byte index, bit mask, field): every defined bit of an ASB message.
ASB_BITS: list[tuple[int, int, str]] = [
    (0, 1 << 2, "drawer_pin3_high"),
    (0, 1 << 3, "offline"),
    (0, 1 << 5, "cover_open"),
    (0, 1 << 6, "paper_fed_by_button"),
    (1, 1 << 0, "waiting_for_online_recovery"),
    (1, 1 << 1, "feed_button_pressed"),
    (1, 1 << 2, "recoverable_error"),
    (1, 1 << 3, "autocutter_error"),
    (1, 1 << 5, "unrecoverable_error"),
    (1, 1 << 6, "auto_recoverable_error"),
    (2, 0b0000_0011, "near_end"),
    (2, 0b0000_1100, "paper_end"),
]


def _fields(value: object) -> dict[str, bool]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("decode", "mask", "field"), REAL_TIME_BITS)
@pytest.mark.parametrize("bit_set", [True, False])
def test_every_real_time_bit_decodes_to_its_field(
    decode: Any, mask: int, field: str, bit_set: bool
) -> None:
    byte = REAL_TIME_BASE | (mask if bit_set else 0)
    decoded = _fields(decode(byte))
    assert decoded[field] is bit_set
    assert not any(value for name, value in decoded.items() if name != field)


@pytest.mark.parametrize(("index", "mask", "field"), ASB_BITS)
@pytest.mark.parametrize("bit_set", [True, False])
def test_every_asb_bit_decodes_to_its_field(
    index: int, mask: int, field: str, bit_set: bool
) -> None:
    message = bytearray(ASB_BASE)
    message[index] |= mask if bit_set else 0
    decoded = _fields(AsbStatus.decode(bytes(message)))
    assert decoded[field] is bit_set
    assert not any(value for name, value in decoded.items() if name != field)


@pytest.mark.parametrize(
    ("decode", "label"),
    [
        (PrinterByte.decode, "DLE EOT 1"),
        (OfflineCauseByte.decode, "DLE EOT 2"),
        (ErrorCauseByte.decode, "DLE EOT 3"),
        (RollPaperByte.decode, "DLE EOT 4"),
    ],
)
@pytest.mark.parametrize(("bit", "flip"), [(0, 1), (1, 0), (4, 0), (7, 1)])
def test_real_time_byte_breaking_a_fixed_bit_is_rejected_as_noise(
    decode: Any, label: str, bit: int, flip: int
) -> None:
    byte = REAL_TIME_BASE | (1 << bit) if flip else REAL_TIME_BASE & ~(1 << bit)
    with pytest.raises(StatusByteError) as caught:
        decode(byte)
    message = str(caught.value)
    assert label in message
    assert f"0x{byte:02X}" in message
    assert f"bit {bit}" in message
    assert caught.value.bit == bit


@pytest.mark.parametrize(
    ("index", "bit", "flip"),
    [(0, 0, 1), (0, 1, 1), (0, 4, 0), (0, 7, 1)]
    + [(index, bit, 1) for index in (1, 2, 3) for bit in (4, 7)],
)
def test_asb_byte_breaking_a_fixed_bit_is_rejected(index: int, bit: int, flip: int) -> None:
    message = bytearray(ASB_BASE)
    message[index] = message[index] | (1 << bit) if flip else message[index] & ~(1 << bit)
    with pytest.raises(StatusByteError) as caught:
        AsbStatus.decode(bytes(message))
    assert f"ASB byte {index + 1}" in str(caught.value)
    assert f"bit {bit}" in str(caught.value)


def test_asb_first_byte_and_real_time_answer_are_told_apart() -> None:
    assert protocol.is_real_time_answer(0x12)
    assert not protocol.is_asb_first_byte(0x12)
    assert protocol.is_asb_first_byte(0x10)
    assert not protocol.is_real_time_answer(0x10)
    assert protocol.is_asb_following_byte(0x00)
    assert not protocol.is_asb_following_byte(0x12)


def test_wrong_number_of_bytes_is_rejected() -> None:
    with pytest.raises(ValueError, match="4 status bytes"):
        decode_real_time(b"\x12\x12")
    with pytest.raises(ValueError, match="4 bytes"):
        decode_asb(b"\x10\x00")


def test_requests_are_the_documented_command_bytes() -> None:
    assert [protocol.status_request(kind) for kind in StatusKind] == [
        b"\x10\x04\x01",
        b"\x10\x04\x02",
        b"\x10\x04\x03",
        b"\x10\x04\x04",
    ]
    assert protocol.asb_request(True) == b"\x1d\x61\x0e"
    assert protocol.asb_request(False) == b"\x1d\x61\x00"
    with pytest.raises(ValueError, match="5"):
        protocol.status_request(5)


def _golden_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(GOLDEN.read_text())["cases"]
    return cases


@pytest.mark.parametrize("case", _golden_cases(), ids=lambda case: case["name"])
def test_golden_case(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["hex"])
    decode = decode_real_time if case["kind"] == "real_time" else decode_asb
    if "error" in case:
        with pytest.raises(StatusByteError) as caught:
            decode(data)
        for words in case["error"]:
            assert words in str(caught.value)
        return
    decoded = decode(data).model_dump(mode="json")
    assert {name: decoded[name] for name in case["expected"]} == case["expected"]


CANONICAL_STATUSES = [
    PrinterStatus(
        online=online,
        paper=paper,
        cover_open=cover_open,
        cutter_error=cutter_error,
        unrecoverable_error=unrecoverable_error,
        recoverable_error=recoverable_error,
        over_temperature=None if recoverable_error and cover_open else recoverable_error,
    )
    for online in (True, False)
    for paper in PaperState
    for cover_open in (True, False)
    for cutter_error in (True, False)
    for unrecoverable_error in (True, False)
    for recoverable_error in (True, False)
]


@pytest.mark.parametrize("status", CANONICAL_STATUSES, ids=repr)
def test_round_trip_through_real_time_bytes(status: PrinterStatus) -> None:
    answers = encode_real_time(status)
    assert all(protocol.is_real_time_answer(byte) for byte in answers)
    assert decode_real_time(answers) == status


@pytest.mark.parametrize("status", CANONICAL_STATUSES, ids=repr)
def test_round_trip_through_asb_message(status: PrinterStatus) -> None:
    message = encode_asb(status)
    assert decode_asb(message) == status


def test_over_temperature_encodes_as_auto_recoverable_error() -> None:
    hot = PrinterStatus(online=False, paper=PaperState.OK, over_temperature=True)
    decoded = decode_real_time(encode_real_time(hot))
    assert decoded.recoverable_error is True
    assert decoded.over_temperature is True
