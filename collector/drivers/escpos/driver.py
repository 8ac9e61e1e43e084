"""Read an ESC/POS receipt printer's status over a serial line or a pyserial URL.

One read sends DLE EOT 1, 2, 3 and 4 and waits for each one-byte answer. The port stays
open between reads and is reopened after any failed read. All serial I/O happens in a
worker thread; the event loop only awaits it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Protocol, cast

import serial

from posfleet.collector.driver import DriverError, Reading
from posfleet.collector.drivers.escpos.config import EscposSettings
from posfleet.collector.drivers.escpos.protocol import (
    ALL_KINDS,
    ASB_MESSAGE_LENGTH,
    StatusByteError,
    StatusKind,
    asb_request,
    decode_asb,
    decode_real_time,
    explain_noise,
    is_asb_first_byte,
    is_asb_following_byte,
    is_real_time_answer,
    status_request,
)
from posfleet.telemetry import PrinterStatus

logger = logging.getLogger(__name__)

_PARITY: Final = {"none": "N", "even": "E", "odd": "O"}
_NOISE_SHOWN: Final = 8
"""Noise bytes quoted in a log line; the rest are only counted."""


class SerialPort(Protocol):
    """The part of a pyserial ``Serial`` object the driver uses."""

    timeout: float | None

    def write(self, data: bytes, /) -> int | None: ...

    def read(self, size: int = 1, /) -> bytes: ...

    @property
    def in_waiting(self) -> int: ...

    def close(self) -> None: ...


SerialOpener = Callable[[EscposSettings], SerialPort]


def open_serial_port(settings: EscposSettings) -> SerialPort:
    """Open ``settings.port``: a device path or any pyserial URL (socket://, rfc2217://)."""
    port = serial.serial_for_url(
        settings.port,
        baudrate=settings.baudrate,
        parity=_PARITY[settings.parity],
        timeout=settings.response_timeout_seconds,
    )
    return cast(SerialPort, port)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _hex(data: bytes | bytearray) -> str:
    shown = " ".join(f"0x{byte:02X}" for byte in data[:_NOISE_SHOWN])
    return shown + (" ..." if len(data) > _NOISE_SHOWN else "")


class _ByteSource:
    """Bytes from the port one at a time, each awaited until a deadline, with push-back."""

    def __init__(self, port: SerialPort, monotonic: Callable[[], float]) -> None:
        self._port = port
        self._monotonic = monotonic
        self._pushed_back = bytearray()

    def next_byte(self, deadline: float) -> int | None:
        if self._pushed_back:
            return self._pushed_back.pop(0)
        remaining = deadline - self._monotonic()
        if remaining <= 0:
            return None
        self._port.timeout = remaining
        chunk = self._port.read(1)
        return chunk[0] if chunk else None

    def write(self, data: bytes) -> None:
        self._port.write(data)

    def push_back(self, data: bytes | bytearray) -> None:
        self._pushed_back[:0] = data

    def pending(self) -> bool:
        return bool(self._pushed_back) or self._port.in_waiting > 0


class EscposDriver:
    """Polls one ESC/POS printer with DLE EOT 1..4 (or follows its ASB messages).

    ``open_port`` and ``clock`` are the outside world (tests pass fakes); ``monotonic`` is
    the clock that measures answer timeouts. ``noise_bytes_total`` counts bytes that were
    discarded because they were not status bytes (a wrong baud rate produces many).
    """

    def __init__(
        self,
        settings: EscposSettings,
        *,
        open_port: SerialOpener = open_serial_port,
        clock: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._open_port = open_port
        self._clock = clock
        self._monotonic = monotonic
        self._port: SerialPort | None = None
        self._source: _ByteSource | None = None
        self._latest_asb: PrinterStatus | None = None
        # A read cancelled by the collector's timeout leaves its thread running; the next
        # read's thread waits for it instead of talking over it.
        self._io_lock = threading.Lock()
        self._noise_seen: list[tuple[str, bytes]] = []
        self.noise_bytes_total = 0
        """Bytes discarded as noise since the driver was created."""
        self.asb_messages_total = 0
        """ASB messages received since the driver was created."""

    async def read(self) -> Reading:
        """Poll the printer once; raise DriverError(no_answer|malformed|unreachable)."""
        status = await asyncio.to_thread(self._read_blocking)
        return Reading(observed_at=self._clock(), parts={"printer": status})

    def close(self) -> None:
        """Close the port (the next read opens it again). Blocks while a read is under way."""
        with self._io_lock:
            self._close_port()

    async def aclose(self) -> None:
        """Close the port without blocking the event loop (the collector calls this)."""
        await asyncio.to_thread(self.close)

    # --- blocking part, runs in a worker thread ---------------------------------------

    def _read_blocking(self) -> PrinterStatus:
        with self._io_lock:
            self._noise_seen.clear()
            try:
                return self._poll()
            except DriverError:
                self._close_port()
                raise
            except (serial.SerialException, OSError) as exc:
                self._close_port()
                raise DriverError(
                    "unreachable", f"serial I/O on {self.settings.port} failed: {exc}"
                ) from exc
            finally:
                self._log_noise()

    def _poll(self) -> PrinterStatus:
        source = self._ensure_open()
        self._drain(source)
        if self.settings.automatic_status_back and self._latest_asb is not None:
            # ASB reports every change by itself; one request proves the printer is alive.
            self._request(source, StatusKind.PRINTER)
            return self._latest_asb
        answers = bytes(self._request(source, kind) for kind in ALL_KINDS)
        try:
            return decode_real_time(answers)
        except StatusByteError as exc:  # unreachable in practice: answers were screened
            raise DriverError("malformed", str(exc)) from exc

    def _ensure_open(self) -> _ByteSource:
        if self._port is not None and self._source is not None:
            return self._source
        try:
            port = self._open_port(self.settings)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DriverError("unreachable", f"cannot open {self.settings.port}: {exc}") from exc
        self._port = port
        self._source = _ByteSource(port, self._monotonic)
        if self.settings.automatic_status_back:
            self._source.write(asb_request(True))
        return self._source

    def _close_port(self) -> None:
        port, self._port, self._source = self._port, None, None
        self._latest_asb = None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError) as exc:
                logger.debug("closing %s failed: %s", self.settings.port, exc)

    def _drain(self, source: _ByteSource) -> None:
        """Take in what arrived since the last read: ASB messages, or stale bytes."""
        stale = bytearray()
        while source.pending():
            deadline = self._monotonic() + self.settings.response_timeout_seconds
            byte = source.next_byte(deadline)
            if byte is None:
                break
            if not (is_asb_first_byte(byte) and self._take_asb(source, byte, deadline)):
                stale.append(byte)
        if stale:
            self._count_noise(stale, "before the poll")

    def _request(self, source: _ByteSource, kind: StatusKind) -> int:
        """Send DLE EOT ``kind`` and return its answer byte, skipping noise and ASB."""
        source.write(status_request(kind))
        what = f"DLE EOT {int(kind)}"
        deadline = self._monotonic() + self.settings.response_timeout_seconds
        noise = bytearray()
        while (byte := source.next_byte(deadline)) is not None:
            if is_real_time_answer(byte):
                answer = self._last_answer_in_burst(source, byte, noise, deadline)
                if noise:
                    self._count_noise(noise, f"before the answer to {what}")
                return answer
            if is_asb_first_byte(byte) and self._take_asb(source, byte, deadline):
                continue
            noise.append(byte)
        if noise:
            self.noise_bytes_total += len(noise)
            raise DriverError("malformed", self._describe_noise(noise, what))
        raise DriverError(
            "no_answer",
            f"no answer to {what} from {self.settings.port} within "
            f"{self.settings.response_timeout_seconds} s",
        )

    def _last_answer_in_burst(
        self, source: _ByteSource, candidate: int, noise: bytearray, deadline: float
    ) -> int:
        """One noise byte in 16 has the fixed bits of an answer. When more answer-shaped
        bytes are already waiting, the printer's answer is the last of them (noise comes
        before an answer, not after it); the ones before it join ``noise``."""
        while source.pending():
            byte = source.next_byte(deadline)
            if byte is None:
                break
            if is_real_time_answer(byte):
                noise.append(candidate)
                candidate = byte
            elif not (is_asb_first_byte(byte) and self._take_asb(source, byte, deadline)):
                source.push_back(bytes((byte,)))
                break
        return candidate

    def _take_asb(self, source: _ByteSource, first: int, deadline: float) -> bool:
        """Read the rest of an ASB message that starts with ``first``; False if it is not."""
        message = bytearray((first,))
        while len(message) < ASB_MESSAGE_LENGTH:
            byte = source.next_byte(deadline)
            if byte is None or not is_asb_following_byte(byte):
                # Not an ASB message after all: its bytes go back to be judged one by one.
                source.push_back(message[1:] + (bytes((byte,)) if byte is not None else b""))
                return False
            message.append(byte)
        self.asb_messages_total += 1
        self._latest_asb = decode_asb(bytes(message))
        return True

    def _describe_noise(self, noise: bytearray, what: str) -> str:
        reason = explain_noise(noise[0], f"answer to {what}")
        return (
            f"no valid answer to {what} from {self.settings.port}: got {len(noise)} noise "
            f"byte(s) {_hex(noise)}; {reason} (a baud rate or parity that does not match "
            "the printer's produces such bytes)"
        )

    def _count_noise(self, noise: bytearray, where: str) -> None:
        self.noise_bytes_total += len(noise)
        self._noise_seen.append((where, bytes(noise)))

    def _log_noise(self) -> None:
        """One log line per poll, however many answers had noise in front of them."""
        if not self._noise_seen:
            return
        total = sum(len(noise) for _, noise in self._noise_seen)
        where, first = self._noise_seen[0]
        logger.warning(
            "discarded %d noise byte(s) on %s during one poll, first %s %s",
            total,
            self.settings.port,
            _hex(first),
            where,
        )
