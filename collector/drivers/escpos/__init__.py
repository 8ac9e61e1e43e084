"""ESC/POS receipt printers on a serial line (or a pyserial URL)."""

from posfleet.collector.driver import DriverPlugin
from posfleet.collector.drivers.escpos.config import EscposSettings

PLUGIN = DriverPlugin(name="escpos", settings_model=EscposSettings)
