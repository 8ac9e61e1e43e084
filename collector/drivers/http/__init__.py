"""Smart (Android) terminals that serve their status as JSON over HTTP."""

from posfleet.collector.driver import DriverPlugin
from posfleet.collector.drivers.http.config import HttpSettings
from posfleet.collector.drivers.http.driver import create

PLUGIN = DriverPlugin(name="http", settings_model=HttpSettings, create=create)
