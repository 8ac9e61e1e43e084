"""Cause groups: every local error has one, codes map as documented, unknowns stay unknown."""

from __future__ import annotations

from typing import Any

import pytest

from posfleet.exporters.catalogue import CAUSE_GROUPS
from posfleet.exporters.derived.causes import (
    LOCAL_ERROR_CAUSES,
    CauseGroup,
    cause_of,
)
from posfleet.telemetry.transaction import LocalError
from tests.exporters.derived.support import transaction


def test_every_local_error_has_a_group_and_the_catalogue_lists_every_group() -> None:
    assert set(LOCAL_ERROR_CAUSES) == set(LocalError)
    assert tuple(group.value for group in CauseGroup) == CAUSE_GROUPS


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"outcome": "approved", "host_response_code": "00"}, "approved"),
        ({"outcome": "declined", "host_response_code": "51"}, "issuer_refusal"),
        ({"outcome": "declined", "host_response_code": "55"}, "issuer_refusal"),
        ({"outcome": "declined", "host_response_code": "61"}, "policy_limit"),
        ({"outcome": "declined", "host_response_code": "91"}, "gateway_outage"),
        ({"outcome": "declined", "host_response_code": "96"}, "gateway_outage"),
        ({"outcome": "declined", "host_response_code": "13"}, "operator_error"),
        ({"outcome": "declined", "host_response_code": "Z9"}, "unclassified"),
        ({"outcome": "failed", "local_error": "printer_paper_out"}, "device_fault"),
        ({"outcome": "failed", "local_error": "card_read_error"}, "device_fault"),
        ({"outcome": "timeout", "local_error": "network_timeout"}, "network"),
        ({"outcome": "failed", "local_error": "tls_error"}, "terminal_config"),
        ({"outcome": "failed", "local_error": "operator_input_error"}, "operator_error"),
        ({"outcome": "timeout"}, "network"),
        ({"outcome": "failed"}, "unclassified"),
    ],
)
def test_an_attempt_gets_the_group_of_who_must_act(fields: dict[str, Any], expected: str) -> None:
    outcome = fields.pop("outcome")
    assert cause_of(transaction("T-0451-000001", outcome, **fields)) == expected
