"""The simulated ESC/POS printer: its protocol half and its pseudo-terminal."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import serial

from posfleet.collector.drivers.escpos.protocol import encode_asb, encode_real_time
from posfleet.simulator.escpos_device import EscposPrinterDevice, EscposResponder
from posfleet.telemetry import PaperState, PrinterStatus

HEALTHY = PrinterStatus(online=True, paper=PaperState.OK, cover_open=False)
PAPER_OUT = PrinterStatus(online=False, paper=PaperState.OUT, cover_open=False)


class Model:
    def __init__(self) -> None:
        self.status = HEALTHY

    def __call__(self) -> PrinterStatus:
        return self.status


def test_answers_each_real_time_request_from_the_current_state() -> None:
    model = Model()
    responder = EscposResponder(model)
    expected = encode_real_time(HEALTHY)
    for n in (1, 2, 3, 4):
        assert responder.receive(bytes((0x10, 0x04, n))) == [("answer", expected[n - 1 : n])]
    model.status = PAPER_OUT
    assert responder.receive(b"\x10\x04\x04") == [("answer", encode_real_time(PAPER_OUT)[3:])]
    assert responder.requests_total == 5


def test_requests_split_across_reads_and_mixed_with_print_data_are_answered() -> None:
    responder = EscposResponder(Model())
    assert responder.receive(b"Total 12.50\n\x10") == []
    assert responder.receive(b"\x04") == []
    assert responder.receive(b"\x02\x1b@\x10\x04\x01") == [
        ("answer", encode_real_time(HEALTHY)[1:2]),
        ("answer", encode_real_time(HEALTHY)[0:1]),
    ]


def test_unknown_status_numbers_and_other_commands_are_ignored() -> None:
    responder = EscposResponder(Model())
    assert responder.receive(b"\x10\x04\x05\x10\x14\x01\x1d\x56\x00") == []
    assert responder.requests_total == 0


def test_asb_sends_status_when_enabled_and_on_every_change_only() -> None:
    model = Model()
    responder = EscposResponder(model)
    assert responder.asb_due() is None  # off until GS a
    assert responder.receive(b"\x1d\x61\x0e") == [("asb", encode_asb(HEALTHY))]
    assert responder.asb_due() is None  # nothing changed
    model.status = PAPER_OUT
    assert responder.asb_due() == encode_asb(PAPER_OUT)
    assert responder.asb_due() is None
    assert responder.receive(b"\x1d\x61\x00") == []
    model.status = HEALTHY
    assert responder.asb_due() is None
    assert not responder.asb_enabled


@pytest.fixture
def device() -> Iterator[EscposPrinterDevice]:
    with EscposPrinterDevice(Model()) as printer:
        yield printer


@pytest.fixture
def port(device: EscposPrinterDevice) -> Iterator[serial.Serial]:
    connection = serial.serial_for_url(device.port_path, baudrate=9600, timeout=2.0)
    yield connection
    connection.close()


def test_pty_answers_like_a_serial_printer(
    device: EscposPrinterDevice, port: serial.Serial
) -> None:
    assert device.port_path.startswith("/dev/")
    port.write(b"\x10\x04\x01\x10\x04\x04")
    assert port.read(2) == encode_real_time(HEALTHY)[0:1] + encode_real_time(HEALTHY)[3:4]


def test_pty_passes_bytes_untouched(device: EscposPrinterDevice, port: serial.Serial) -> None:
    # Bytes a cooked terminal would translate or swallow: LF, CR, XON, XOFF, ^C.
    device.faults.noise = b"\n\r\x11\x13\x03"
    port.write(b"\x10\x04\x01")
    assert port.read(6) == b"\n\r\x11\x13\x03" + encode_real_time(HEALTHY)[0:1]


def test_garbled_answer_replaces_the_real_one(
    device: EscposPrinterDevice, port: serial.Serial
) -> None:
    device.faults.garbled_answer = b"\xe0\xfc"
    port.write(b"\x10\x04\x01")
    assert port.read(2) == b"\xe0\xfc"


def test_silent_device_answers_nothing(device: EscposPrinterDevice, port: serial.Serial) -> None:
    device.faults.silent = True
    port.timeout = 0.2
    port.write(b"\x10\x04\x01")
    assert port.read(1) == b""


def test_port_vanishes_when_the_device_closes() -> None:
    printer = EscposPrinterDevice(Model()).start()
    path = printer.port_path
    assert os.path.exists(path)
    printer.close()
    assert not os.path.exists(path)


def test_port_path_needs_a_started_device() -> None:
    with pytest.raises(RuntimeError, match="start"):
        _ = EscposPrinterDevice(Model()).port_path
