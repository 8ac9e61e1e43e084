"""The escpos driver against a simulated printer on a real pseudo-terminal and over TCP."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from posfleet.collector.driver import DriverError
from posfleet.collector.drivers.escpos.config import EscposSettings
from posfleet.collector.drivers.escpos.driver import EscposDriver
from posfleet.simulator.escpos_device import (
    DeviceFaults,
    EscposPrinterDevice,
    EscposResponder,
    serve_link,
)
from posfleet.telemetry import PaperState, PrinterStatus

OBSERVED_AT = datetime(2026, 11, 25, 10, 42, tzinfo=UTC)
HEALTHY = PrinterStatus(
    online=True,
    paper=PaperState.OK,
    cover_open=False,
    cutter_error=False,
    unrecoverable_error=False,
    recoverable_error=False,
    over_temperature=False,
)
# Generous: a loaded CI machine must not turn a healthy printer into a timeout.
TIMEOUT = 2.0


@dataclass
class PrinterModel:
    """The state provider the simulated printer answers from; tests change ``status``."""

    status: PrinterStatus = HEALTHY

    def __call__(self) -> PrinterStatus:
        return self.status


@pytest.fixture
def model() -> PrinterModel:
    return PrinterModel()


@pytest.fixture
def device(model: PrinterModel) -> Iterator[EscposPrinterDevice]:
    with EscposPrinterDevice(model) as printer:
        yield printer


def make_driver(port: str, **settings: Any) -> EscposDriver:
    options: dict[str, Any] = {"response_timeout_seconds": TIMEOUT, **settings}
    return EscposDriver(EscposSettings(port=port, **options), clock=lambda: OBSERVED_AT)


async def read_printer(driver: EscposDriver) -> PrinterStatus:
    reading = await driver.read()
    assert reading.observed_at == OBSERVED_AT
    printer = reading.parts["printer"]
    assert isinstance(printer, PrinterStatus)
    return printer


async def test_healthy_printer_reads_online_with_paper(device: EscposPrinterDevice) -> None:
    driver = make_driver(device.port_path)
    assert await read_printer(driver) == HEALTHY
    assert device.responder.requests_total == 4
    assert driver.noise_bytes_total == 0
    await driver.aclose()


@pytest.mark.parametrize(
    "status",
    [
        HEALTHY.model_copy(update={"paper": PaperState.NEAR_END}),
        HEALTHY.model_copy(update={"online": False, "paper": PaperState.OUT}),
        HEALTHY.model_copy(update={"online": False, "cover_open": True}),
        HEALTHY.model_copy(update={"online": False, "cutter_error": True}),
        HEALTHY.model_copy(update={"online": False, "unrecoverable_error": True}),
        HEALTHY.model_copy(
            update={"online": False, "recoverable_error": True, "over_temperature": True}
        ),
    ],
    ids=["paper near end", "paper out", "cover open", "cutter error", "unrecoverable", "hot"],
)
async def test_printer_faults_are_reported(
    device: EscposPrinterDevice, model: PrinterModel, status: PrinterStatus
) -> None:
    model.status = status
    driver = make_driver(device.port_path)
    assert await read_printer(driver) == status
    driver.close()


async def test_state_changes_show_in_the_next_read(
    device: EscposPrinterDevice, model: PrinterModel
) -> None:
    driver = make_driver(device.port_path)
    assert (await read_printer(driver)).paper == PaperState.OK
    model.status = HEALTHY.model_copy(update={"paper": PaperState.NEAR_END})
    assert (await read_printer(driver)).paper == PaperState.NEAR_END
    driver.close()


async def test_noise_before_answers_is_discarded_and_counted(
    device: EscposPrinterDevice, caplog: pytest.LogCaptureFixture
) -> None:
    # 0x7E has the fixed bits of an answer: only the byte after it shows it was noise.
    device.faults.noise = b"\xff\x00\x7e"
    driver = make_driver(device.port_path)
    assert await read_printer(driver) == HEALTHY
    assert driver.noise_bytes_total == 12  # 3 bytes before each of the 4 answers
    assert "discarded 12 noise byte(s)" in caplog.text
    assert "0xFF 0x00 0x7E" in caplog.text
    driver.close()


async def test_answers_split_byte_by_byte_are_assembled(device: EscposPrinterDevice) -> None:
    device.faults.noise = b"\x00\x00"
    device.faults.split_gap_seconds = 0.02
    driver = make_driver(device.port_path)
    assert await read_printer(driver) == HEALTHY
    assert driver.noise_bytes_total == 8
    driver.close()


async def test_late_answers_within_the_timeout_are_accepted(
    device: EscposPrinterDevice,
) -> None:
    device.faults.delay_seconds = 0.1
    driver = make_driver(device.port_path)
    assert await read_printer(driver) == HEALTHY
    driver.close()


async def test_silent_printer_is_no_answer(device: EscposPrinterDevice) -> None:
    device.faults.silent = True
    driver = make_driver(device.port_path, response_timeout_seconds=0.2)
    with pytest.raises(DriverError) as caught:
        await driver.read()
    assert caught.value.reason == "no_answer"
    assert "DLE EOT 1" in str(caught.value)
    assert device.port_path in str(caught.value)


async def test_garbage_instead_of_answers_is_malformed_naming_byte_and_bit(
    device: EscposPrinterDevice,
) -> None:
    device.faults.garbled_answer = b"\xe0"  # what 9600 baud data looks like at 38400
    driver = make_driver(device.port_path, response_timeout_seconds=0.2)
    with pytest.raises(DriverError) as caught:
        await driver.read()
    assert caught.value.reason == "malformed"
    message = str(caught.value)
    assert "0xE0" in message
    assert "bit 1" in message
    assert "baud rate" in message
    assert driver.noise_bytes_total == 1


async def test_port_that_does_not_exist_is_unreachable(tmp_path: Path) -> None:
    driver = make_driver(str(tmp_path / "ttyUSB9"))
    with pytest.raises(DriverError) as caught:
        await driver.read()
    assert caught.value.reason == "unreachable"
    assert "ttyUSB9" in str(caught.value)


async def test_silent_printer_that_speaks_again_reads_healthy(
    device: EscposPrinterDevice,
) -> None:
    device.faults.silent = True
    driver = make_driver(device.port_path, response_timeout_seconds=0.2)
    with pytest.raises(DriverError):
        await driver.read()
    device.faults.silent = False
    assert await read_printer(driver) == HEALTHY
    driver.close()


async def test_recovers_when_the_device_comes_back(model: PrinterModel, tmp_path: Path) -> None:
    # Like /dev/serial/by-id/...: a stable name that udev points at whichever node exists.
    link = tmp_path / "printer"
    driver = make_driver(str(link))
    with EscposPrinterDevice(model) as first:
        link.symlink_to(first.port_path)
        assert await read_printer(driver) == HEALTHY
    with pytest.raises(DriverError) as caught:
        await driver.read()
    assert caught.value.reason == "unreachable"
    link.unlink()
    with EscposPrinterDevice(model) as second:
        link.symlink_to(second.port_path)
        model.status = HEALTHY.model_copy(update={"paper": PaperState.NEAR_END})
        assert (await read_printer(driver)).paper == PaperState.NEAR_END
        driver.close()


async def test_reads_do_not_block_the_event_loop(device: EscposPrinterDevice) -> None:
    device.faults.delay_seconds = 0.05
    driver = make_driver(device.port_path)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await read_printer(driver)
    ticker.cancel()
    # Four answers each held back 50 ms: a blocked loop would not have ticked at all.
    assert ticks > 0
    driver.close()


async def test_automatic_status_back_reports_changes_with_one_request(
    device: EscposPrinterDevice, model: PrinterModel
) -> None:
    driver = make_driver(device.port_path, automatic_status_back=True)
    assert await read_printer(driver) == HEALTHY
    assert device.responder.asb_enabled
    model.status = HEALTHY.model_copy(update={"online": False, "paper": PaperState.OUT})
    for _ in range(100):
        before = device.responder.requests_total
        status = await read_printer(driver)
        if status.paper == PaperState.OUT:
            break
        await asyncio.sleep(0.02)
    assert status == model.status
    assert device.responder.requests_total - before == 1  # liveness check only
    assert driver.asb_messages_total >= 2
    driver.close()


@dataclass
class TcpPrinter:
    """A serial server stand-in: the simulated printer's protocol over raw TCP."""

    model: PrinterModel
    faults: DeviceFaults = field(default_factory=DeviceFaults)
    listener: socket.socket = field(init=False)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with connection:
                os.set_blocking(connection.fileno(), False)
                serve_link(connection.fileno(), EscposResponder(self.model), self.faults, self.stop)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.listener.close()


@pytest.fixture
def tcp_printer(model: PrinterModel) -> Iterator[TcpPrinter]:
    printer = TcpPrinter(model)
    yield printer
    printer.close()


async def test_reads_a_printer_behind_a_serial_server_url(
    tcp_printer: TcpPrinter, model: PrinterModel
) -> None:
    model.status = HEALTHY.model_copy(update={"online": False, "cover_open": True})
    driver = make_driver(tcp_printer.url)
    assert await read_printer(driver) == model.status
    tcp_printer.faults.noise = b"\xff"
    tcp_printer.faults.split_gap_seconds = 0.01
    assert await read_printer(driver) == model.status
    assert driver.noise_bytes_total == 4
    driver.close()


async def test_serial_server_that_refuses_connections_is_unreachable(
    tcp_printer: TcpPrinter,
) -> None:
    url = tcp_printer.url
    tcp_printer.close()
    driver = make_driver(url)
    with pytest.raises(DriverError) as caught:
        await driver.read()
    assert caught.value.reason == "unreachable"
