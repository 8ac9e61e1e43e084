"""A simulated ESC/POS receipt printer on a pseudo-terminal.

The collector opens ``EscposPrinterDevice.port_path`` exactly as it would open
``/dev/ttyUSB0``. The device answers real-time status requests (DLE EOT 1..4) and sends
Automatic Status Back messages (after GS a) from a state provider, so whatever model
drives the simulation drives the printer's answers. Test knobs (``DeviceFaults``) add the
misbehaviour of real lines: noise bytes, late answers, answers split over time, silence.

The protocol half (:class:`EscposResponder`) and the byte pump (:func:`serve_link`) are
separate from the pseudo-terminal, so the same printer can be served over any file
descriptor, such as a TCP connection standing in for a serial server.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from posfleet.collector.drivers.escpos.protocol import (
    DLE,
    EOT,
    GS,
    StatusKind,
    encode_asb,
    encode_real_time,
)
from posfleet.telemetry import PrinterStatus

StateProvider = Callable[[], PrinterStatus]
"""Returns the printer's current state; called from the device's thread."""

_COMMAND_AFTER = {DLE: EOT, GS: ord("a")}
"""The commands the device answers: DLE EOT n and GS a n."""
_READ_CHUNK = 4096


@dataclass
class DeviceFaults:
    """Misbehaviour to simulate; change the fields at any time, the device reads them live."""

    noise: bytes = b""
    """Bytes sent before every DLE EOT answer (what a wrong baud rate or a noisy line adds)."""
    delay_seconds: float = 0.0
    """Wait before each answer or ASB message."""
    split_gap_seconds: float = 0.0
    """When positive, every byte of an answer (noise included) is sent on its own, with this
    pause between them."""
    garbled_answer: bytes | None = None
    """Sent instead of every DLE EOT answer (a baud rate that does not match the printer's
    turns answers into bytes like these)."""
    silent: bool = False
    """Answer nothing (a printer switched off, or a cable pulled on the printer side)."""


class EscposResponder:
    """The protocol half of a simulated printer: request bytes in, answer bytes out."""

    def __init__(self, state: StateProvider) -> None:
        self._state = state
        self._pending = bytearray()
        self._asb_enabled = False
        self._asb_last_sent: bytes | None = None
        self.requests_total = 0
        """DLE EOT requests received."""

    @property
    def asb_enabled(self) -> bool:
        return self._asb_enabled

    def receive(self, data: bytes) -> list[tuple[str, bytes]]:
        """Take in bytes from the host; return what to send back, as (kind, bytes) with kind
        ``answer`` (a DLE EOT answer) or ``asb`` (an ASB message), in order."""
        self._pending += data
        out: list[tuple[str, bytes]] = []
        while self._pending:
            lead = self._pending[0]
            command = _COMMAND_AFTER.get(lead)
            if command is None or (len(self._pending) > 1 and self._pending[1] != command):
                del self._pending[0]  # print data and other commands: nothing to answer
                continue
            if len(self._pending) < 3:
                break  # a request split across reads: wait for the rest
            argument = self._pending[2]
            del self._pending[:3]
            if lead == GS:
                message = self._set_asb(argument)
                if message is not None:
                    out.append(("asb", message))
            elif min(StatusKind) <= argument <= max(StatusKind):  # other n: ignored, as Epson's
                self.requests_total += 1
                out.append(("answer", self._answer(StatusKind(argument))))
        return out

    def asb_due(self) -> bytes | None:
        """The ASB message to send now: ASB is on and the state changed since the last one."""
        if not self._asb_enabled:
            return None
        message = encode_asb(self._state())
        if message == self._asb_last_sent:
            return None
        self._asb_last_sent = message
        return message

    def _answer(self, kind: StatusKind) -> bytes:
        return encode_real_time(self._state())[kind - 1 : kind]

    def _set_asb(self, watched: int) -> bytes | None:
        # Bits 1-3 select online/offline, error and paper sensor changes; n = 0 turns ASB off.
        self._asb_enabled = bool(watched & 0b0000_1111)
        self._asb_last_sent = None
        # Enabling ASB makes the printer send its status at once.
        return self.asb_due()


def _send(fd: int, data: bytes, faults: DeviceFaults, stop: threading.Event) -> None:
    if faults.delay_seconds > 0 and stop.wait(faults.delay_seconds):
        return
    pieces = [bytes((byte,)) for byte in data] if faults.split_gap_seconds > 0 else [data]
    for index, piece in enumerate(pieces):
        if index and stop.wait(faults.split_gap_seconds):
            return
        # A host that stopped reading fills the line's buffer; a printer just drops output then.
        with contextlib.suppress(BlockingIOError):
            os.write(fd, piece)


def serve_link(
    fd: int,
    responder: EscposResponder,
    faults: DeviceFaults,
    stop: threading.Event,
    *,
    poll_seconds: float = 0.02,
) -> None:
    """Answer requests arriving on ``fd`` until ``stop`` is set or the peer goes away.

    Blocks; run it in a thread. ``poll_seconds`` is how often ASB checks the state.
    """
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], poll_seconds)
        if ready:
            try:
                data = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                continue
            except OSError:
                return  # the other side is gone
            if not data:
                return
            for kind, message in responder.receive(data):
                if faults.silent:
                    continue
                if kind == "answer":
                    answer = message if faults.garbled_answer is None else faults.garbled_answer
                    _send(fd, faults.noise + answer, faults, stop)
                else:
                    _send(fd, message, faults, stop)
        change = responder.asb_due()
        if change is not None and not faults.silent:
            _send(fd, change, faults, stop)


class EscposPrinterDevice:
    """A simulated ESC/POS printer behind a pseudo-terminal.

    Usage::

        with EscposPrinterDevice(lambda: PrinterStatus(online=True, paper="ok")) as printer:
            connect_collector_to(printer.port_path)

    The server runs in a daemon thread, so an asyncio loop hosting the device never blocks.
    """

    def __init__(
        self,
        state: StateProvider,
        *,
        faults: DeviceFaults | None = None,
        poll_seconds: float = 0.02,
    ) -> None:
        self.faults = faults if faults is not None else DeviceFaults()
        self.responder = EscposResponder(state)
        self._poll_seconds = poll_seconds
        self._master: int | None = None
        self._slave: int | None = None
        self._port_path: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port_path(self) -> str:
        """The pseudo-terminal's device path (``/dev/pts/N``), to open like a serial port."""
        if self._port_path is None:
            raise RuntimeError("the device has no port until start() is called")
        return self._port_path

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the device is already started")
        master, slave = os.openpty()
        # Raw mode: bytes such as 0x0A or 0x11 (XON) pass untouched and nothing is echoed.
        tty.setraw(slave)
        os.set_blocking(master, False)
        # Holding the slave open keeps the master readable while the collector reconnects.
        self._master, self._slave = master, slave
        self._port_path = os.ttyname(slave)
        self._stop.clear()
        self._thread = threading.Thread(
            target=serve_link,
            args=(master, self.responder, self.faults, self._stop),
            kwargs={"poll_seconds": self._poll_seconds},
            name=f"escpos-device {self._port_path}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop answering and remove the pseudo-terminal (the collector sees the port vanish)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
