"""Transaction events: one per payment attempt, sent separately from status snapshots.

A transaction event never carries card data: the card appears masked (first 6 and last 4
digits at most), and a message with a full card number, track data, a PIN or a CVV is
refused as a whole.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from posfleet.telemetry.base import TELEMETRY_SCHEMA_VERSION, Identifier, TelemetryModel
from posfleet.telemetry.card_data import SCREENED_CONTEXT, find_card_data


class Outcome(StrEnum):
    """How the attempt ended, as the terminal saw it."""

    APPROVED = "approved"
    DECLINED = "declined"
    FAILED = "failed"
    TIMEOUT = "timeout"
    REVERSED = "reversed"


class LocalError(StrEnum):
    """Why the terminal itself could not complete the attempt (no host answer involved)."""

    PRINTER_PAPER_OUT = "printer_paper_out"
    PRINTER_FAULT = "printer_fault"
    CARD_READ_ERROR = "card_read_error"
    CARD_REMOVED_EARLY = "card_removed_early"
    CONTACTLESS_COLLISION = "contactless_collision"
    QR_DECODE_ERROR = "qr_decode_error"
    PIN_ENTRY_TIMEOUT = "pin_entry_timeout"
    CUSTOMER_CANCELLED = "customer_cancelled"
    OPERATOR_CANCELLED = "operator_cancelled"
    OPERATOR_INPUT_ERROR = "operator_input_error"
    NETWORK_DOWN = "network_down"
    NETWORK_TIMEOUT = "network_timeout"
    DNS_FAILURE = "dns_failure"
    HOST_UNREACHABLE = "host_unreachable"
    TLS_ERROR = "tls_error"
    KEY_ERROR = "key_error"
    NOT_SIGNED_ON = "not_signed_on"
    NOT_REGISTERED = "not_registered"
    CONFIGURATION_ERROR = "configuration_error"
    LOW_BATTERY = "low_battery"
    TAMPERED = "tampered"
    INTERNAL_ERROR = "internal_error"


class ReversalState(StrEnum):
    """Where the reversal of a timed-out or failed sale stands."""

    NOT_NEEDED = "not_needed"
    PENDING = "pending"
    """Queued on the terminal; it is sent with the next transaction or on a timer."""
    SENT = "sent"
    """Sent to the host, no answer yet."""
    CONFIRMED = "confirmed"
    """The host confirmed the reversal: the customer is not charged."""
    FAILED = "failed"
    """The terminal gave up: the customer may be charged for a sale shown as failed."""


MaskedPan = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{0,6}[*Xx#]{3,13}[0-9]{0,4}$", max_length=19),
    Field(examples=["625800******1234"]),
]
"""A masked card number: at most the first 6 and the last 4 digits, the rest masked."""


class TransactionEvent(TelemetryModel):
    """One payment attempt and how it ended."""

    schema_version: Literal[1] = TELEMETRY_SCHEMA_VERSION
    """Major version of this contract; a message of another version is refused."""
    transaction_id: Identifier
    """Unique id of the attempt on this terminal (retries of a sale get new ids)."""
    terminal_id: Identifier
    """The terminal that ran it."""
    merchant_id: Identifier
    """The merchant that owns the store."""
    store_id: Identifier
    """The store where the terminal stands."""
    operator_id: Identifier | None = None
    """The cashier signed in on the terminal or register, for input-error statistics."""
    occurred_at: AwareDatetime
    """When the attempt ended, with a time zone (RFC 3339)."""
    amount_minor: Annotated[int, Strict(), Field(ge=0)]
    """Amount in the currency's minor unit (cents, fen): 12.50 EUR is 1250."""
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    """ISO 4217 alphabetic currency code, e.g. EUR, CNY."""
    outcome: Outcome
    """approved, declined, failed, timeout or reversed."""
    host_response_code: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{2,3}$")] | None = (
        None
    )
    """The acquirer's response code (ISO 8583 field 39), absent when no answer came."""
    local_error: LocalError | None = None
    """Why the terminal failed the attempt itself, absent when the host decided."""
    reversal_state: ReversalState | None = None
    """For timed-out or failed sales: where the reversal stands."""
    stan: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] | None = None
    """System trace audit number (ISO 8583 field 11), six digits."""
    rrn: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{12}$")] | None = None
    """Retrieval reference number (ISO 8583 field 37), twelve characters."""
    masked_pan: MaskedPan | None = None
    """The card, masked: first 6 and last 4 digits at most."""
    entry_mode: Literal["chip", "magstripe", "contactless", "qr", "manual"] | None = None
    """How the card or wallet was presented."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_card_data(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context and info.context.get(SCREENED_CONTEXT):
            return data
        problem = find_card_data(
            data, pan_exempt_fields=frozenset({"transaction_id", "stan", "rrn"})
        )
        if problem:
            raise ValueError(problem)
        return data
