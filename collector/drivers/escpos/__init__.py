"""ESC/POS receipt printers on a serial line (or a pyserial URL)."""

from posfleet.collector.driver import DriverContext, DriverPlugin
from posfleet.collector.drivers.escpos.config import EscposSettings
from posfleet.collector.drivers.escpos.driver import EscposDriver


def create(settings: EscposSettings, context: DriverContext) -> EscposDriver:
    """Build the driver for one printer (the context is not needed: one port, one printer)."""
    return EscposDriver(settings)


PLUGIN = DriverPlugin(name="escpos", settings_model=EscposSettings, create=create)

__all__ = ["PLUGIN", "EscposDriver", "EscposSettings", "create"]
