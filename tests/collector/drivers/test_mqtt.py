"""The mqtt driver: what a poll reports from the hub's latest message for its terminal."""

from __future__ import annotations

import pytest

from posfleet.collector.driver import DriverContext, DriverError, installed_drivers
from posfleet.collector.drivers.mqtt.config import MqttPushSettings
from posfleet.collector.drivers.mqtt.driver import MqttDriver
from posfleet.collector.inputs import AlreadyCountedBadInput
from posfleet.collector.metrics import CollectorStats
from posfleet.collector.mqtt_hub import MqttHub, TerminalAddress, client_factory
from posfleet.config.models import MqttSettings
from tests.collector.fakes import FakeClock
from tests.collector.test_mqtt_hub import status, topic


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hub(clock: FakeClock) -> MqttHub:
    settings = MqttSettings(url="mqtt://127.0.0.1:1")
    return MqttHub(
        settings,
        {"T-1": TerminalAddress("acme", "S-1")},
        connect=client_factory(settings, "unused"),
        stats=CollectorStats(),
        clock=clock,
    )


def make_driver(hub: MqttHub, clock: FakeClock, **settings: object) -> MqttDriver:
    plugin = installed_drivers()["mqtt"]
    assert plugin.create is not None
    context = DriverContext("T-1", "acme", "S-1", resources={"mqtt_hub": hub, "clock": clock})
    driver = plugin.create(MqttPushSettings.model_validate(settings), context)
    assert isinstance(driver, MqttDriver)
    return driver


async def test_nothing_pushed_is_pending_then_stale(hub: MqttHub, clock: FakeClock) -> None:
    driver = make_driver(hub, clock, stale_after_seconds=60)
    with pytest.raises(DriverError) as caught:
        await driver.read()
    assert caught.value.reason == "pending"  # not late yet: no failure
    await clock.advance(61)
    with pytest.raises(DriverError) as caught:
        await driver.read()
    assert caught.value.reason == "stale"


async def test_latest_push_is_the_reading(hub: MqttHub, clock: FakeClock) -> None:
    driver = make_driver(hub, clock)
    await hub.handle(topic(), status(minute=1))
    await hub.handle(topic(), status(minute=2, vendor="Ingenico"))
    reading = await driver.read()
    assert reading.observed_at.minute == 2
    assert list(reading.parts) == ["network"]
    assert reading.device == {"vendor": "Ingenico"}


async def test_push_older_than_stale_after_is_stale(hub: MqttHub, clock: FakeClock) -> None:
    driver = make_driver(hub, clock, stale_after_seconds=60)
    await hub.handle(topic(), status())
    await clock.advance(59)
    await driver.read()
    await clock.advance(2)
    with pytest.raises(DriverError) as caught:
        await driver.read()
    assert caught.value.reason == "stale"
    assert "61 s ago" in str(caught.value)


async def test_refused_message_after_the_last_good_one_is_reported(
    hub: MqttHub, clock: FakeClock
) -> None:
    driver = make_driver(hub, clock)
    await hub.handle(topic(), status())
    await clock.advance(1)
    await hub.handle(topic(), status(printer={"paper": "empty"}))
    with pytest.raises(AlreadyCountedBadInput) as caught:
        await driver.read()
    assert caught.value.reason == "malformed"
    assert "printer.paper" in str(caught.value)
    await clock.advance(1)
    await hub.handle(topic(), status(minute=9))
    assert (await driver.read()).observed_at.minute == 9
