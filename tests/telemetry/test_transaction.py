"""Transaction events carry what failure analysis needs and never card data."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from posfleet.telemetry import Outcome, ReversalState, TransactionEvent
from posfleet.telemetry.docs import EXAMPLE_TRANSACTION
from posfleet.validation import field_errors

FULL_PAN = "4761739001010010"  # a Visa test card number, Luhn-valid


def event(**overrides: Any) -> dict[str, Any]:
    body = dict(EXAMPLE_TRANSACTION)
    body.update(overrides)
    return body


def errors_of(body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        TransactionEvent.model_validate_json(json.dumps(body))
    return [str(error) for error in field_errors(caught.value)]


def test_documented_example_is_valid() -> None:
    parsed = TransactionEvent.model_validate_json(json.dumps(EXAMPLE_TRANSACTION))
    assert parsed.outcome is Outcome.TIMEOUT
    assert parsed.reversal_state is ReversalState.PENDING
    assert parsed.masked_pan == "476173******0010"


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ({"masked_pan": FULL_PAN}, "masked_pan"),
        ({"masked_pan": "4761 7390 0101 0010"}, "masked_pan"),
        ({"receipt_text": f"CARD {FULL_PAN} APPROVED"}, "receipt_text"),
        ({"emv": {"tag57": f";{FULL_PAN}=25121010000?"}}, "emv.tag57"),
        ({"pan": "476173******0010"}, "pan"),
        ({"pin_block": "0412AC89ABCDEF67"}, "pin_block"),
        ({"CVV2": "123"}, "CVV2"),
        ({"card": int(FULL_PAN)}, "card"),
        ({"Track-1": "%B4761739001010010^DOE/JOHN^2512101"}, "Track-1"),
    ],
)
def test_card_data_anywhere_is_refused_and_never_echoed(
    override: dict[str, Any], where: str
) -> None:
    messages = errors_of(event(**override))
    assert len(messages) == 1
    assert messages[0].startswith(f"{where}: ")
    for value in override.values():
        assert str(value) not in messages[0]
    assert FULL_PAN not in messages[0]


def test_masked_pan_shows_at_most_first_six_and_last_four() -> None:
    messages = errors_of(event(masked_pan="4761739*****0010"))  # seven leading digits
    assert messages[0].startswith("masked_pan: String should match pattern")


def test_numeric_transaction_ids_are_not_mistaken_for_cards() -> None:
    parsed = TransactionEvent.model_validate_json(
        json.dumps(event(transaction_id=FULL_PAN, rrn="476173900101"))
    )
    assert parsed.transaction_id == FULL_PAN


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"amount_minor": -5}, "amount_minor: Input should be greater than or equal to 0"),
        ({"amount_minor": 12.5}, "amount_minor: Input should be a valid integer"),
        ({"currency": "eur"}, "currency: String should match pattern"),
        ({"outcome": "ok"}, "outcome: Input should be"),
        ({"local_error": "gremlins"}, "local_error: Input should be"),
        ({"stan": "12345"}, "stan: String should match pattern"),
    ],
)
def test_bad_fields_are_named(override: dict[str, Any], expected: str) -> None:
    messages = errors_of(event(**override))
    assert any(message.startswith(expected) for message in messages), messages
