"""Report what a terminal last pushed to the broker, as the shared MQTT hub received it.

The driver does no I/O: the hub (``DriverContext.resources["mqtt_hub"]``) is subscribed for
every terminal at once, and a poll only looks up this terminal's latest message.
"""

from __future__ import annotations

from typing import Any, Final

from posfleet.collector.clock import Clock, SystemClock
from posfleet.collector.driver import DriverContext, DriverError, Reading
from posfleet.collector.drivers.mqtt.config import MqttPushSettings
from posfleet.collector.inputs import (
    PENDING,
    AlreadyCountedBadInput,
    components,
    device_identity,
)
from posfleet.collector.mqtt_hub import MqttHub

HUB_RESOURCE: Final = "mqtt_hub"
CLOCK_RESOURCE: Final = "clock"
STALE: Final = "stale"


class MqttDriver:
    """Reads one terminal's latest pushed status from the hub."""

    def __init__(
        self,
        settings: MqttPushSettings,
        context: DriverContext,
        hub: MqttHub,
        clock: Clock | None = None,
    ) -> None:
        self._terminal_id = context.terminal_id
        self._stale_after = settings.stale_after_seconds
        self._hub = hub
        self._clock = clock or SystemClock()
        self._started = self._clock.monotonic()
        if settings.topic:
            hub.add_status_topic(settings.topic, context.terminal_id)

    async def read(self) -> Reading:
        pushed, refused = self._hub.latest(self._terminal_id)
        if refused is not None and (pushed is None or refused.received_at > pushed.received_at):
            raise AlreadyCountedBadInput(refused.reason, refused.message)
        if pushed is None:
            waited = self._clock.monotonic() - self._started
            if waited <= self._stale_after:
                # Right after a start, a terminal that pushes rarely is not yet late.
                raise DriverError(PENDING, "nothing pushed yet")
            raise DriverError(STALE, f"nothing pushed in the {waited:.0f} s since the start")
        age = self._clock.monotonic() - pushed.received_at
        if age > self._stale_after:
            raise DriverError(STALE, f"last status pushed {age:.0f} s ago")
        return Reading(
            observed_at=pushed.snapshot.observed_at,
            parts=components(pushed.snapshot),
            device=device_identity(pushed.snapshot),
        )


def create(settings: Any, context: DriverContext) -> MqttDriver:
    """The plug-in factory: needs ``resources["mqtt_hub"]`` (the collector's MQTT hub)."""
    if not isinstance(settings, MqttPushSettings):
        settings = MqttPushSettings.model_validate(settings)
    hub = context.resources.get(HUB_RESOURCE)
    if not isinstance(hub, MqttHub):
        raise TypeError(f"the mqtt driver needs resources[{HUB_RESOURCE!r}]")
    clock = context.resources.get(CLOCK_RESOURCE)
    return MqttDriver(settings, context, hub, clock)
