"""Serve each escpos terminal's printer on its own pseudo-terminal, fed by the model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from posfleet.simulator.engine import Fleet
from posfleet.simulator.snapshot import printer_status
from posfleet.telemetry import PrinterStatus


class PrinterDevice(Protocol):
    """What the bridge needs of a simulated printer (``EscposPrinterDevice``)."""

    @property
    def port_path(self) -> str: ...

    def close(self) -> None: ...


DeviceFactory = Callable[[Callable[[], PrinterStatus]], PrinterDevice]


def start_escpos_device(state: Callable[[], PrinterStatus]) -> PrinterDevice:
    # Imported here so the rest of the simulator works where pseudo-terminals do not.
    from posfleet.simulator.escpos_device import EscposPrinterDevice

    return EscposPrinterDevice(state).start()


def _state_of(fleet: Fleet, terminal_id: str) -> Callable[[], PrinterStatus]:
    terminal = fleet.by_id[terminal_id]

    def state() -> PrinterStatus:
        status = printer_status(terminal, fleet.now)
        return status if status is not None else PrinterStatus(online=False)

    return state


class EscposBridge:
    """One simulated printer device per escpos terminal; ``ports`` maps terminal id to the
    device path the collector opens."""

    def __init__(self, fleet: Fleet, factory: DeviceFactory = start_escpos_device) -> None:
        self._fleet = fleet
        self._factory = factory
        self.devices: dict[str, PrinterDevice] = {}

    def start(self) -> dict[str, str]:
        for terminal in self._fleet.terminals:
            if terminal.spec.driver == "escpos":
                device = self._factory(_state_of(self._fleet, terminal.spec.id))
                self.devices[terminal.spec.id] = device
        return self.ports

    @property
    def ports(self) -> dict[str, str]:
        return {terminal_id: device.port_path for terminal_id, device in self.devices.items()}

    def close(self) -> None:
        while self.devices:
            _, device = self.devices.popitem()
            device.close()
