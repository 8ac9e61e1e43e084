"""Check what terminals send before anything else sees it: size, encoding, JSON, types,
card data. One function per message kind, shared by the http driver and the MQTT hub, so a
refused message gets the same reason and message whichever way it arrived.
"""

from __future__ import annotations

import json
from typing import Final, TypeVar

from pydantic import ValidationError

from posfleet.collector.driver import DriverError
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from posfleet.telemetry.base import TelemetryModel
from posfleet.telemetry.card_data import find_card_data, screened_context
from posfleet.validation import field_errors

TOO_LARGE: Final = "too_large"
BINARY: Final = "binary"
MALFORMED: Final = "malformed"
CARD_DATA: Final = "card_data"
WRONG_TERMINAL: Final = "wrong_terminal"
UNKNOWN_TERMINAL: Final = "unknown_terminal"

PENDING: Final = "pending"
"""Not a failure: the source has had nothing to report yet (e.g. a push terminal right after
the collector started). The poll is counted but changes neither state nor backoff."""

BAD_INPUT_REASONS: Final = frozenset(
    {TOO_LARGE, BINARY, MALFORMED, CARD_DATA, WRONG_TERMINAL, UNKNOWN_TERMINAL}
)
"""Reasons that mean the source answered but what it sent was refused (counted as bad
input; the terminal is degraded, not offline)."""

STATUS_COMPONENTS: Final = (
    "printer",
    "screen",
    "card_reader",
    "qr_scanner",
    "network",
    "firmware",
    "system",
)
"""Fields of :class:`StatusSnapshot` that a source may report."""

DEVICE_FIELDS: Final = ("serial", "model", "vendor")


class AlreadyCountedBadInput(DriverError):
    """Bad input counted where it arrived (the MQTT hub), so polls do not count it again."""


# At most this many field problems go into one message: a body of garbage has hundreds.
_MAX_PROBLEMS: Final = 5

ModelT = TypeVar("ModelT", bound=TelemetryModel)


def _card_data_in(model: type[TelemetryModel], data: object) -> str | None:
    # The same search the model's own validator ran, to tell card data from other refusals.
    if model is TransactionEvent:
        return find_card_data(data, pan_exempt_fields=frozenset({"transaction_id", "stan", "rrn"}))
    return find_card_data(data, check_pans=False)


def _describe(model: type[TelemetryModel], exc: ValidationError, payload: bytes) -> DriverError:
    errors = field_errors(exc)
    json_errors = [error for error in exc.errors() if error["type"] == "json_invalid"]
    if json_errors:
        # pydantic's message carries the position: "EOF while parsing ... at line 1 column 80".
        detail = str(json_errors[0]["ctx"].get("error", "")) if "ctx" in json_errors[0] else ""
        return DriverError(MALFORMED, f"not valid JSON: {detail or json_errors[0]['msg']}")
    if any(not error.location for error in errors):
        # Whole-message refusals come from the card-data check; name them precisely.
        try:
            problem = _card_data_in(model, json.loads(payload))
        except ValueError:
            problem = None
        if problem:
            return DriverError(CARD_DATA, problem)
    lines = [str(error) for error in errors[:_MAX_PROBLEMS]]
    if len(errors) > _MAX_PROBLEMS:
        lines.append(f"... and {len(errors) - _MAX_PROBLEMS} more")
    return DriverError(MALFORMED, "; ".join(lines))


def _parse(model: type[ModelT], payload: bytes, max_bytes: int) -> ModelT:
    if len(payload) > max_bytes:
        raise DriverError(TOO_LARGE, f"{len(payload)} bytes, more than the {max_bytes} allowed")
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DriverError(
            BINARY, f"not UTF-8 text: byte 0x{payload[exc.start]:02x} at offset {exc.start}"
        ) from None
    context = screened_context(payload)
    try:
        return model.model_validate_json(payload, context=context)
    except ValidationError as exc:
        raise _describe(model, exc, payload) from None


def parse_status(payload: bytes, max_bytes: int) -> StatusSnapshot:
    """A status snapshot from JSON bytes, or :class:`DriverError` with a bad-input reason."""
    return _parse(StatusSnapshot, payload, max_bytes)


def parse_transaction(payload: bytes, max_bytes: int) -> TransactionEvent:
    """A transaction event from JSON bytes, or :class:`DriverError` with a bad-input reason."""
    return _parse(TransactionEvent, payload, max_bytes)


def components(snapshot: StatusSnapshot) -> dict[str, TelemetryModel]:
    """The components a snapshot reports, by field name (absent ones left out)."""
    parts: dict[str, TelemetryModel] = {}
    for name in STATUS_COMPONENTS:
        value = getattr(snapshot, name)
        if value is not None:
            parts[name] = value
    return parts


def device_identity(snapshot: StatusSnapshot) -> dict[str, str]:
    """serial, model and vendor as the snapshot reports them (absent ones left out)."""
    device: dict[str, str] = {}
    for name in DEVICE_FIELDS:
        value = getattr(snapshot, name)
        if value is not None:
            device[name] = value
    return device
