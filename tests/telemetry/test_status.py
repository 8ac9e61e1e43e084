"""The status snapshot accepts what terminals send and refuses what would corrupt data."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from posfleet.telemetry import PaperState, StatusSnapshot
from posfleet.telemetry.docs import EXAMPLE_STATUS
from posfleet.validation import field_errors


def snapshot(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "terminal_id": "T-0001",
        "merchant_id": "acme",
        "store_id": "S-001",
        "observed_at": "2026-11-25T10:00:00Z",
    }
    body.update(overrides)
    return body


def errors_of(body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        StatusSnapshot.model_validate_json(json.dumps(body))
    return [str(error) for error in field_errors(caught.value)]


def test_documented_example_is_valid_and_round_trips() -> None:
    parsed = StatusSnapshot.model_validate_json(json.dumps(EXAMPLE_STATUS))
    assert parsed.printer is not None
    assert parsed.printer.paper is PaperState.NEAR_END
    again = StatusSnapshot.model_validate_json(parsed.model_dump_json(exclude_none=True))
    assert again == parsed


def test_unreported_values_stay_absent_not_zero() -> None:
    parsed = StatusSnapshot.model_validate_json(
        json.dumps(snapshot(printer={"paper": "ok"}, network={"link_up": True}))
    )
    assert parsed.printer is not None
    assert parsed.printer.faults_total is None
    assert parsed.network is not None
    assert parsed.network.signal_dbm is None
    assert parsed.screen is None
    dumped = json.loads(parsed.model_dump_json(exclude_none=True))
    assert dumped["printer"] == {"paper": "ok"}


def test_unknown_fields_are_tolerated_and_dropped() -> None:
    parsed = StatusSnapshot.model_validate_json(
        json.dumps(snapshot(vendor_extension={"x": 1}, printer={"paper": "ok", "ink": "cyan"}))
    )
    assert "vendor_extension" not in parsed.model_dump()
    assert "ink" not in parsed.model_dump()["printer"]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"printer": {"faults_total": -1}}, "printer.faults_total: Input should be greater"),
        (
            {"printer": {"paper_cuts_total": "5"}},
            "printer.paper_cuts_total: Input should be a valid",
        ),
        ({"printer": {"online": 1}}, "printer.online: Input should be a valid boolean"),
        (
            {"printer": {"paper": "empty"}},
            "printer.paper: Input should be 'ok', 'near_end' or 'out'",
        ),
        (
            {"network": {"packet_loss_ratio": 1.5}},
            "network.packet_loss_ratio: Input should be less",
        ),
        ({"network": {"signal_dbm": 12}}, "network.signal_dbm: Input should be less than or equal"),
        ({"system": {"battery_percent": 101}}, "system.battery_percent: Input should be less"),
        ({"observed_at": "2026-11-25T10:00:00"}, "observed_at: Input should have timezone info"),
        ({"terminal_id": "store/1"}, "terminal_id: String should match pattern"),
        ({"schema_version": 2}, "schema_version: Input should be 1"),
        (
            {"system": {"memory_used_bytes": 10, "memory_total_bytes": 5}},
            "system: memory_used_bytes is larger than memory_total_bytes",
        ),
    ],
)
def test_wrong_types_and_impossible_values_are_refused_naming_the_field(
    override: dict[str, Any], expected: str
) -> None:
    messages = errors_of(snapshot(**override))
    assert any(message.startswith(expected) for message in messages), messages


def test_missing_identity_is_refused() -> None:
    body = snapshot()
    del body["store_id"]
    assert errors_of(body) == ["store_id: Field required"]


def test_card_data_in_a_status_message_is_refused_without_echoing_it() -> None:
    messages = errors_of(snapshot(diagnostics={"track2": ";4761739001010010=25121010000"}))
    assert messages == [
        "diagnostics.track2: field name 'track2' is reserved for card data, which is refused"
    ]
    assert "4761739001010010" not in messages[0]


def test_serial_numbers_that_pass_luhn_are_not_mistaken_for_cards() -> None:
    imei = "356938035643809"  # IMEIs carry a Luhn check digit by design
    parsed = StatusSnapshot.model_validate_json(json.dumps(snapshot(serial=imei)))
    assert parsed.serial == imei
