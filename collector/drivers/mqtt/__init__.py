"""Terminals that push status and transaction events to the MQTT broker."""

from posfleet.collector.driver import DriverPlugin
from posfleet.collector.drivers.mqtt.config import MqttPushSettings
from posfleet.collector.drivers.mqtt.driver import create

PLUGIN = DriverPlugin(name="mqtt", settings_model=MqttPushSettings, create=create)
