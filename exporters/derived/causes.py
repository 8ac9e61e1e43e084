"""Why a payment attempt ended as it did, in a few groups that say who must act.

The mapping is deliberately small and generic: ISO 8583 field 39 codes mean slightly
different things per acquirer, and a later version replaces :data:`RESPONSE_CODE_CAUSES`
with per-acquirer tables. A code or error not listed here is ``unclassified``, never guessed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from posfleet.telemetry import TransactionEvent
from posfleet.telemetry.transaction import LocalError, Outcome


class CauseGroup(StrEnum):
    """Who or what made an attempt end the way it did."""

    APPROVED = "approved"
    OPERATOR_ERROR = "operator_error"
    """Cashier or customer input: cancelled, wrong amount, card removed early."""
    DEVICE_FAULT = "device_fault"
    """The terminal's hardware: printer, card reader, QR camera, battery, tamper."""
    NETWORK = "network"
    """The terminal could not reach the acquirer, or the answer came too late."""
    TERMINAL_CONFIG = "terminal_config"
    """Keys, certificates, registration, sign-on or settings of the terminal."""
    ISSUER_REFUSAL = "issuer_refusal"
    """The card's bank said no (funds, PIN, card status): normal business."""
    GATEWAY_OUTAGE = "gateway_outage"
    """The acquirer, switch or issuer system is down or malfunctioning."""
    POLICY_LIMIT = "policy_limit"
    """An amount or frequency limit was exceeded."""
    UNCLASSIFIED = "unclassified"


CAUSE_GROUPS: Final = tuple(group.value for group in CauseGroup)

TECHNICAL_FAILURES: Final = frozenset(
    {
        CauseGroup.DEVICE_FAULT,
        CauseGroup.NETWORK,
        CauseGroup.TERMINAL_CONFIG,
        CauseGroup.GATEWAY_OUTAGE,
        CauseGroup.UNCLASSIFIED,
    }
)
"""Groups that count as a technical failure in the failure-rate alerts."""

_G = CauseGroup
_E = LocalError

LOCAL_ERROR_CAUSES: Final[dict[LocalError, CauseGroup]] = {
    _E.PRINTER_PAPER_OUT: _G.DEVICE_FAULT,
    _E.PRINTER_FAULT: _G.DEVICE_FAULT,
    _E.CARD_READ_ERROR: _G.DEVICE_FAULT,
    _E.QR_DECODE_ERROR: _G.DEVICE_FAULT,
    _E.LOW_BATTERY: _G.DEVICE_FAULT,
    _E.TAMPERED: _G.DEVICE_FAULT,
    _E.INTERNAL_ERROR: _G.DEVICE_FAULT,
    _E.CARD_REMOVED_EARLY: _G.OPERATOR_ERROR,
    _E.CONTACTLESS_COLLISION: _G.OPERATOR_ERROR,
    # Mostly the customer walking away; a dead touch panel shows in its own metrics.
    _E.PIN_ENTRY_TIMEOUT: _G.OPERATOR_ERROR,
    _E.CUSTOMER_CANCELLED: _G.OPERATOR_ERROR,
    _E.OPERATOR_CANCELLED: _G.OPERATOR_ERROR,
    _E.OPERATOR_INPUT_ERROR: _G.OPERATOR_ERROR,
    _E.NETWORK_DOWN: _G.NETWORK,
    _E.NETWORK_TIMEOUT: _G.NETWORK,
    _E.DNS_FAILURE: _G.NETWORK,
    _E.HOST_UNREACHABLE: _G.NETWORK,
    # TLS failures come from expired certificates and wrong clocks far more than from the wire.
    _E.TLS_ERROR: _G.TERMINAL_CONFIG,
    _E.KEY_ERROR: _G.TERMINAL_CONFIG,
    _E.NOT_SIGNED_ON: _G.TERMINAL_CONFIG,
    _E.NOT_REGISTERED: _G.TERMINAL_CONFIG,
    _E.CONFIGURATION_ERROR: _G.TERMINAL_CONFIG,
}
"""Every local error and its group (a test checks that none is missing)."""

RESPONSE_CODE_CAUSES: Final[dict[str, CauseGroup]] = {
    # approvals
    "00": _G.APPROVED,
    "08": _G.APPROVED,  # honour with identification
    "10": _G.APPROVED,  # partial approval
    "11": _G.APPROVED,  # approved (VIP)
    # the issuer refused the card or the cardholder
    "01": _G.ISSUER_REFUSAL,  # refer to card issuer
    "02": _G.ISSUER_REFUSAL,
    "04": _G.ISSUER_REFUSAL,  # pick up card
    "05": _G.ISSUER_REFUSAL,  # do not honour
    "07": _G.ISSUER_REFUSAL,
    "14": _G.ISSUER_REFUSAL,  # invalid card number
    "33": _G.ISSUER_REFUSAL,  # expired card
    "41": _G.ISSUER_REFUSAL,  # lost card
    "43": _G.ISSUER_REFUSAL,  # stolen card
    "51": _G.ISSUER_REFUSAL,  # insufficient funds
    "54": _G.ISSUER_REFUSAL,  # expired card
    "55": _G.ISSUER_REFUSAL,  # incorrect PIN
    "57": _G.ISSUER_REFUSAL,  # not permitted to cardholder
    "59": _G.ISSUER_REFUSAL,  # suspected fraud
    "62": _G.ISSUER_REFUSAL,  # restricted card
    "75": _G.ISSUER_REFUSAL,  # PIN tries exceeded
    # limits
    "61": _G.POLICY_LIMIT,  # exceeds amount limit
    "65": _G.POLICY_LIMIT,  # exceeds frequency limit
    # the message or the input was wrong
    "12": _G.OPERATOR_ERROR,  # invalid transaction
    "13": _G.OPERATOR_ERROR,  # invalid amount
    "30": _G.OPERATOR_ERROR,  # format error
    # the terminal or merchant is not set up for this
    "03": _G.TERMINAL_CONFIG,  # invalid merchant
    "58": _G.TERMINAL_CONFIG,  # not permitted to terminal
    # the systems behind the terminal
    "68": _G.GATEWAY_OUTAGE,  # response received too late
    "90": _G.GATEWAY_OUTAGE,  # cut-off in progress
    "91": _G.GATEWAY_OUTAGE,  # issuer or switch inoperative
    "92": _G.GATEWAY_OUTAGE,  # routing impossible
    "96": _G.GATEWAY_OUTAGE,  # system malfunction
}
"""ISO 8583 field 39 codes and their group; codes not listed are unclassified."""


def cause_of(event: TransactionEvent) -> CauseGroup:
    """The group of one attempt: the terminal's own error first, then the host's code."""
    if event.local_error is not None:
        return LOCAL_ERROR_CAUSES.get(event.local_error, CauseGroup.UNCLASSIFIED)
    if event.host_response_code is not None:
        return RESPONSE_CODE_CAUSES.get(event.host_response_code, CauseGroup.UNCLASSIFIED)
    if event.outcome is Outcome.APPROVED:
        return CauseGroup.APPROVED
    if event.outcome is Outcome.TIMEOUT:
        return CauseGroup.NETWORK
    return CauseGroup.UNCLASSIFIED
