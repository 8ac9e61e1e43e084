"""Terminals that push status and transaction events to the MQTT broker."""

from posfleet.collector.driver import DriverPlugin
from posfleet.collector.drivers.mqtt.config import MqttPushSettings

PLUGIN = DriverPlugin(name="mqtt", settings_model=MqttPushSettings)
