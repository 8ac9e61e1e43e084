"""ESC/POS status bytes: the requests, their answers and the telemetry they mean.

Pure functions, no I/O. Real-time status (``DLE EOT n``, n = 1..4) answers one byte per
request; Automatic Status Back (``GS a n``) sends four bytes whenever a watched status
changes. Every status byte has fixed bits (DLE EOT answers ``0xx1xx10``, the first ASB byte
``0xx1xx00``, the other ASB bytes ``0xx0xxxx``), which is how a byte is told apart from
line noise and an ASB message from a DLE EOT answer. Bit meanings follow the Epson ESC/POS
command reference (see this folder's README for the sources and for what maps where).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from posfleet.telemetry import PaperState, PrinterStatus

DLE = 0x10
EOT = 0x04
GS = 0x1D

ASB_WATCH_ALL = 0b0000_1110
"""GS a n with bits 1, 2 and 3: online/offline, error and roll paper sensor changes."""
ASB_MESSAGE_LENGTH = 4


class StatusKind(IntEnum):
    """The ``n`` of DLE EOT n: which real-time status the printer sends back."""

    PRINTER = 1
    OFFLINE_CAUSE = 2
    ERROR_CAUSE = 3
    ROLL_PAPER = 4


ALL_KINDS: tuple[StatusKind, ...] = tuple(StatusKind)


class StatusByteError(ValueError):
    """A byte breaks the fixed bits of the status it was read as: noise, not status.

    The message names the byte (in hex), the status and the offending bit, ready to be
    the message of a ``DriverError("malformed", ...)``.
    """

    def __init__(self, byte: int, what: str, bit: int, expected: int) -> None:
        super().__init__(
            f"{what}: byte 0x{byte:02X} has bit {bit} = {1 - expected}, "
            f"but that bit is fixed to {expected}; treating the byte as noise"
        )
        self.byte = byte
        self.bit = bit


# Fixed bits as (bit, required value).
REAL_TIME_FIXED = ((0, 0), (1, 1), (4, 1), (7, 0))
_ASB_FIRST_FIXED = ((0, 0), (1, 0), (4, 1), (7, 0))
_ASB_OTHER_FIXED = ((4, 0), (7, 0))


def _bit(byte: int, bit: int) -> bool:
    return bool(byte >> bit & 1)


def check_fixed(byte: int, fixed: Iterable[tuple[int, int]], what: str) -> None:
    if not 0 <= byte <= 0xFF:
        raise ValueError(f"{what}: {byte} is not a byte value")
    for bit, expected in fixed:
        if int(_bit(byte, bit)) != expected:
            raise StatusByteError(byte, what, bit, expected)


def explain_noise(byte: int, what: str) -> str:
    """Why ``byte`` cannot be the answer to a DLE EOT request (names the broken bit)."""
    try:
        check_fixed(byte, REAL_TIME_FIXED, what)
    except StatusByteError as exc:
        return str(exc)
    return f"{what}: byte 0x{byte:02X} arrived where no answer was expected"


def is_real_time_answer(byte: int) -> bool:
    """True when ``byte`` has the fixed bits of a DLE EOT answer (``0xx1xx10``)."""
    return byte & 0b1001_0011 == 0b0001_0010


def is_asb_first_byte(byte: int) -> bool:
    """True when ``byte`` can start an ASB message (``0xx1xx00``)."""
    return byte & 0b1001_0011 == 0b0001_0000


def is_asb_following_byte(byte: int) -> bool:
    """True when ``byte`` can be the 2nd, 3rd or 4th byte of an ASB message (``0xx0xxxx``)."""
    return byte & 0b1001_0000 == 0


# --- requests ---------------------------------------------------------------------------


def status_request(kind: StatusKind | int) -> bytes:
    """The bytes of ``DLE EOT n``."""
    kind = StatusKind(kind)
    return bytes((DLE, EOT, kind))


def asb_request(enabled: bool) -> bytes:
    """``GS a n``: watch online/offline, errors and the paper sensor, or nothing."""
    return bytes((GS, ord("a"), ASB_WATCH_ALL if enabled else 0))


# --- the four real-time status bytes ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrinterByte:
    """DLE EOT 1: printer status."""

    drawer_pin3_high: bool
    """Bit 2: drawer kick-out connector pin 3 is high (the drawer sensor)."""
    offline: bool
    """Bit 3: the printer is offline."""
    waiting_for_online_recovery: bool
    """Bit 5: waiting for online recovery."""
    feed_button_pressed: bool
    """Bit 6: the paper feed button is being pressed."""

    @classmethod
    def decode(cls, byte: int) -> PrinterByte:
        check_fixed(byte, REAL_TIME_FIXED, "DLE EOT 1 (printer status)")
        return cls(_bit(byte, 2), _bit(byte, 3), _bit(byte, 5), _bit(byte, 6))


@dataclass(frozen=True, slots=True)
class OfflineCauseByte:
    """DLE EOT 2: why the printer is offline."""

    cover_open: bool
    """Bit 2: the cover is open."""
    paper_fed_by_button: bool
    """Bit 3: paper is being fed by the paper feed button."""
    stopped_by_paper_end: bool
    """Bit 5: printing stopped because the paper ran out."""
    error_occurred: bool
    """Bit 6: an error occurred (DLE EOT 3 says which)."""

    @classmethod
    def decode(cls, byte: int) -> OfflineCauseByte:
        check_fixed(byte, REAL_TIME_FIXED, "DLE EOT 2 (offline cause)")
        return cls(_bit(byte, 2), _bit(byte, 3), _bit(byte, 5), _bit(byte, 6))


@dataclass(frozen=True, slots=True)
class ErrorCauseByte:
    """DLE EOT 3: which error occurred."""

    recoverable_error: bool
    """Bit 2: recoverable (mechanical) error other than the autocutter, e.g. a print head
    home-position error; cleared with DLE ENQ once its cause is removed."""
    autocutter_error: bool
    """Bit 3: autocutter error."""
    unrecoverable_error: bool
    """Bit 5: unrecoverable error (needs a power cycle or service)."""
    auto_recoverable_error: bool
    """Bit 6: automatically recoverable error, typically print head over-temperature."""

    @classmethod
    def decode(cls, byte: int) -> ErrorCauseByte:
        check_fixed(byte, REAL_TIME_FIXED, "DLE EOT 3 (error cause)")
        return cls(_bit(byte, 2), _bit(byte, 3), _bit(byte, 5), _bit(byte, 6))


@dataclass(frozen=True, slots=True)
class RollPaperByte:
    """DLE EOT 4: roll paper sensors."""

    near_end: bool
    """Bits 2 and 3: the near-end sensor sees the roll running low."""
    paper_end: bool
    """Bits 5 and 6: the paper end sensor sees no paper."""

    @classmethod
    def decode(cls, byte: int) -> RollPaperByte:
        check_fixed(byte, REAL_TIME_FIXED, "DLE EOT 4 (roll paper sensor)")
        # Epson sets both bits of a pair together; some clones set only one, so either counts.
        return cls(bool(byte & 0b0000_1100), bool(byte & 0b0110_0000))


@dataclass(frozen=True, slots=True)
class RealTimeStatus:
    """The answers to DLE EOT 1, 2, 3 and 4, decoded."""

    printer: PrinterByte
    offline_cause: OfflineCauseByte
    error_cause: ErrorCauseByte
    roll_paper: RollPaperByte

    @classmethod
    def decode(cls, answers: bytes) -> RealTimeStatus:
        """Decode the four answer bytes, in request order (n = 1, 2, 3, 4)."""
        if len(answers) != len(ALL_KINDS):
            raise ValueError(f"expected 4 status bytes (DLE EOT 1..4), got {len(answers)}")
        return cls(
            PrinterByte.decode(answers[0]),
            OfflineCauseByte.decode(answers[1]),
            ErrorCauseByte.decode(answers[2]),
            RollPaperByte.decode(answers[3]),
        )


def decode_answer(kind: StatusKind | int, byte: int) -> object:
    """Decode the answer to one DLE EOT n into its byte's dataclass."""
    decoders = {
        StatusKind.PRINTER: PrinterByte.decode,
        StatusKind.OFFLINE_CAUSE: OfflineCauseByte.decode,
        StatusKind.ERROR_CAUSE: ErrorCauseByte.decode,
        StatusKind.ROLL_PAPER: RollPaperByte.decode,
    }
    return decoders[StatusKind(kind)](byte)


# --- Automatic Status Back ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AsbStatus:
    """An Automatic Status Back message (four bytes), decoded."""

    drawer_pin3_high: bool
    """Byte 1 bit 2."""
    offline: bool
    """Byte 1 bit 3."""
    cover_open: bool
    """Byte 1 bit 5."""
    paper_fed_by_button: bool
    """Byte 1 bit 6: paper is being fed by the paper feed button."""
    waiting_for_online_recovery: bool
    """Byte 2 bit 0."""
    feed_button_pressed: bool
    """Byte 2 bit 1: the paper feed button is pressed (panel switch)."""
    recoverable_error: bool
    """Byte 2 bit 2: recoverable (mechanical) error other than the autocutter."""
    autocutter_error: bool
    """Byte 2 bit 3."""
    unrecoverable_error: bool
    """Byte 2 bit 5."""
    auto_recoverable_error: bool
    """Byte 2 bit 6."""
    near_end: bool
    """Byte 3 bits 0 and 1: roll paper near-end sensor."""
    paper_end: bool
    """Byte 3 bits 2 and 3: roll paper end sensor."""

    @classmethod
    def decode(cls, message: bytes) -> AsbStatus:
        if len(message) != ASB_MESSAGE_LENGTH:
            raise ValueError(f"an ASB message has 4 bytes, got {len(message)}")
        first, second, third, fourth = message
        check_fixed(first, _ASB_FIRST_FIXED, "ASB byte 1 (printer information)")
        check_fixed(second, _ASB_OTHER_FIXED, "ASB byte 2 (error information)")
        check_fixed(third, _ASB_OTHER_FIXED, "ASB byte 3 (paper sensor information)")
        check_fixed(fourth, _ASB_OTHER_FIXED, "ASB byte 4 (paper sensor information)")
        return cls(
            drawer_pin3_high=_bit(first, 2),
            offline=_bit(first, 3),
            cover_open=_bit(first, 5),
            paper_fed_by_button=_bit(first, 6),
            waiting_for_online_recovery=_bit(second, 0),
            feed_button_pressed=_bit(second, 1),
            recoverable_error=_bit(second, 2),
            autocutter_error=_bit(second, 3),
            unrecoverable_error=_bit(second, 5),
            auto_recoverable_error=_bit(second, 6),
            near_end=bool(third & 0b0000_0011),
            paper_end=bool(third & 0b0000_1100),
        )


# --- to and from the telemetry contract ---------------------------------------------------


def _paper(near_end: bool, paper_end: bool) -> PaperState:
    if paper_end:
        return PaperState.OUT
    return PaperState.NEAR_END if near_end else PaperState.OK


def _over_temperature(auto_recoverable_error: bool, cover_open: bool) -> bool | None:
    # Head over-temperature is reported only through the auto-recoverable error bit, so a
    # clear bit rules it out. A set bit means over-temperature unless the cover is open:
    # some models (TM-T88IV and later) also raise it for a cover opened while printing.
    if not auto_recoverable_error:
        return False
    return None if cover_open else True


def _printer_status(
    *,
    offline: bool,
    cover_open: bool,
    near_end: bool,
    paper_end: bool,
    autocutter_error: bool,
    unrecoverable_error: bool,
    auto_recoverable_error: bool,
) -> PrinterStatus:
    return PrinterStatus(
        online=not offline,
        paper=_paper(near_end, paper_end),
        cover_open=cover_open,
        paper_jam=None,  # ESC/POS has no jam bit; a jam shows as a recoverable error.
        cutter_error=autocutter_error,
        unrecoverable_error=unrecoverable_error,
        recoverable_error=auto_recoverable_error,
        over_temperature=_over_temperature(auto_recoverable_error, cover_open),
    )


def real_time_to_printer_status(status: RealTimeStatus) -> PrinterStatus:
    """What the four DLE EOT answers mean in the telemetry contract."""
    return _printer_status(
        offline=status.printer.offline,
        cover_open=status.offline_cause.cover_open,
        near_end=status.roll_paper.near_end,
        # Printing also stops at the near-end sensor when ESC c 4 selects it, which DLE EOT 2
        # reports as a paper-end stop although the roll sensor still sees paper.
        paper_end=status.roll_paper.paper_end or status.offline_cause.stopped_by_paper_end,
        autocutter_error=status.error_cause.autocutter_error,
        unrecoverable_error=status.error_cause.unrecoverable_error,
        auto_recoverable_error=status.error_cause.auto_recoverable_error,
    )


def decode_real_time(answers: bytes) -> PrinterStatus:
    """The four DLE EOT answers (n = 1, 2, 3, 4, in order) as a PrinterStatus."""
    return real_time_to_printer_status(RealTimeStatus.decode(answers))


def asb_to_printer_status(status: AsbStatus) -> PrinterStatus:
    """What an ASB message means in the telemetry contract."""
    return _printer_status(
        offline=status.offline,
        cover_open=status.cover_open,
        near_end=status.near_end,
        paper_end=status.paper_end,
        autocutter_error=status.autocutter_error,
        unrecoverable_error=status.unrecoverable_error,
        auto_recoverable_error=status.auto_recoverable_error,
    )


def decode_asb(message: bytes) -> PrinterStatus:
    """A four-byte ASB message as a PrinterStatus."""
    return asb_to_printer_status(AsbStatus.decode(message))


def _flag(value: bool | None) -> bool:
    return bool(value)


def _error_flags(status: PrinterStatus) -> tuple[bool, bool, bool]:
    auto_recoverable = _flag(status.recoverable_error) or _flag(status.over_temperature)
    return _flag(status.cutter_error), _flag(status.unrecoverable_error), auto_recoverable


def encode_real_time(status: PrinterStatus) -> bytes:
    """The four DLE EOT answers (n = 1, 2, 3, 4) a printer in ``status`` would send.

    Unknown (None) fields encode as "no problem". Used by the simulated printer.
    """
    cutter, unrecoverable, auto_recoverable = _error_flags(status)
    paper_out = status.paper == PaperState.OUT
    near_end = status.paper in (PaperState.NEAR_END, PaperState.OUT)
    any_error = cutter or unrecoverable or auto_recoverable
    printer = 0b0001_0010 | (0 if status.online is not False else 1 << 3)
    offline_cause = (
        0b0001_0010
        | (1 << 2 if status.cover_open else 0)
        | (1 << 5 if paper_out else 0)
        | (1 << 6 if any_error else 0)
    )
    error_cause = (
        0b0001_0010
        | (1 << 3 if cutter else 0)
        | (1 << 5 if unrecoverable else 0)
        | (1 << 6 if auto_recoverable else 0)
    )
    roll_paper = 0b0001_0010 | (0b0000_1100 if near_end else 0) | (0b0110_0000 if paper_out else 0)
    return bytes((printer, offline_cause, error_cause, roll_paper))


def encode_asb(status: PrinterStatus) -> bytes:
    """The ASB message a printer in ``status`` would send. Used by the simulated printer."""
    cutter, unrecoverable, auto_recoverable = _error_flags(status)
    paper_out = status.paper == PaperState.OUT
    near_end = status.paper in (PaperState.NEAR_END, PaperState.OUT)
    first = (
        0b0001_0000
        | (0 if status.online is not False else 1 << 3)
        | (1 << 5 if status.cover_open else 0)
    )
    second = (1 << 3 if cutter else 0) | (1 << 5 if unrecoverable else 0)
    second |= 1 << 6 if auto_recoverable else 0
    third = (0b0000_0011 if near_end else 0) | (0b0000_1100 if paper_out else 0)
    return bytes((first, second, third, 0))
