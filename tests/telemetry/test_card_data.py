"""The card-data detector itself."""

from __future__ import annotations

import json

import pytest

from posfleet.telemetry.card_data import (
    find_card_data,
    looks_like_full_pan,
    luhn_valid,
    raw_json_is_clean,
)
from posfleet.telemetry.docs import EXAMPLE_TRANSACTION


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("4761739001010010", True), ("4761739001010011", False), ("6250941006528599", True)],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


def test_grouped_pans_are_found_and_short_numbers_ignored() -> None:
    assert looks_like_full_pan("card 6250-9410-0652-8599 ok")
    assert not looks_like_full_pan("order 123456")
    assert not looks_like_full_pan("476173******0010")


def test_exempt_fields_skip_only_the_luhn_check() -> None:
    payload = {"transaction_id": "4761739001010010", "note": "x"}
    assert find_card_data(payload, pan_exempt_fields=frozenset({"transaction_id"})) is None
    assert find_card_data(payload) is not None


@pytest.mark.parametrize(
    "payload",
    [
        {"masked_pan": "4761739001010010"},
        {"note": "card 6250-9410-0652-8599 ok"},
        {"amount": 4761739001010010},
        {"emv": {"tag57": ";4761739001010010=25121010000?"}},
        {"Track-1": "x"},
        {"PIN_block": "x"},
        {"card_number": "x"},
        {"\\u0070an": "x"},
    ],
)
def test_raw_screening_never_passes_what_the_walk_or_a_reader_would_flag(
    payload: dict[str, object],
) -> None:
    raw = json.dumps(payload).encode()
    assert not raw_json_is_clean(raw)


def test_clean_messages_pass_the_raw_screen() -> None:
    raw = json.dumps(EXAMPLE_TRANSACTION).encode()
    assert raw_json_is_clean(raw)
    assert find_card_data(json.loads(raw)) is None
