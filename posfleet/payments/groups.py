"""The cause groups: who or what made a payment attempt end the way it did.

The groups say who must act (the cashier, a technician, IT, the bank) rather than what the
code literally says; the per-network meaning of codes lives in the tables under ``tables/``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from posfleet.telemetry.transaction import LocalError


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
    """A code no table knows (counted), or one too vague to file anywhere."""


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
"""Every local error (posfleet's own list, the same on every network) and its group."""
