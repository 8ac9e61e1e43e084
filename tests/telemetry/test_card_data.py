"""The card-data detector itself."""

from __future__ import annotations

import pytest

from posfleet.telemetry.card_data import find_card_data, looks_like_full_pan, luhn_valid


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
