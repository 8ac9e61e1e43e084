"""Sends what the disk buffer holds to the central broker, advancing it only past PUBACKs.

One connection at a time: a batch of up to ``max_in_flight`` records is read, published at
QoS 1 all at once (aiomqtt's ``publish`` returns when the broker's PUBACK arrives), and the
buffer is acknowledged when every message of the batch is confirmed. A lost connection or a
missing PUBACK means the batch is sent again after reconnecting: delivery is at-least-once,
in buffer order. While connected, the collector's retained status topic says ``online``;
the Last Will (set by the caller's client factory) turns it to ``offline`` when the
collector dies, and a clean close says ``offline`` itself.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Final

import aiomqtt

from posfleet.collector.clock import Clock, SystemClock
from posfleet.exporters.buffer import Batch, DiskBuffer
from posfleet.exporters.mqtt_uplink.metrics import UplinkStats
from posfleet.exporters.mqtt_uplink.records import BadRecord, UplinkMessage, decode

logger = logging.getLogger(__name__)

ONLINE: Final = b"online"
OFFLINE: Final = b"offline"


class BufferSender:
    """The uplink's delivery task: run :meth:`run` until :meth:`finish` or cancellation."""

    def __init__(
        self,
        buffer: DiskBuffer,
        connect: Callable[[], aiomqtt.Client],
        status_topic: str,
        stats: UplinkStats,
        *,
        max_in_flight: int = 256,
        publish_timeout_seconds: float = 10.0,
        reconnect_max_seconds: float = 60.0,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._buffer = buffer
        self._connect = connect
        self._status_topic = status_topic
        self._stats = stats
        self._max_in_flight = max_in_flight
        self._publish_timeout = publish_timeout_seconds
        self._reconnect_max = reconnect_max_seconds
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._new_data = asyncio.Event()
        self._finishing = False

    def wake(self) -> None:
        """New records are in the buffer."""
        self._new_data.set()

    def finish(self) -> None:
        """Deliver what is buffered, say ``offline`` and return from :meth:`run`."""
        self._finishing = True
        self._new_data.set()

    async def run(self) -> None:
        delay = 1.0
        while True:
            try:
                async with self._connect() as client:
                    self._stats.connected = True
                    await client.publish(
                        self._status_topic, ONLINE, qos=1, retain=True, timeout=self._timeout()
                    )
                    logger.info("uplink connected; status %s = online", self._status_topic)
                    delay = 1.0
                    await self._deliver_while_connected(client)
                    return
            except* aiomqtt.MqttError as group:
                self._stats.retries += 1
                logger.warning(
                    "uplink: %s; %d messages stay buffered, retrying in %.0f s",
                    "; ".join(str(exc) for exc in group.exceptions),
                    self._stats.buffer.pending_records if self._stats.buffer else 0,
                    delay,
                )
            finally:
                self._stats.connected = False
            await self._clock.sleep(delay * self._rng.uniform(0.8, 1.2))
            delay = min(delay * 2, self._reconnect_max)

    def _timeout(self) -> float:
        return self._publish_timeout

    async def _deliver_while_connected(self, client: aiomqtt.Client) -> None:
        async with asyncio.TaskGroup() as tasks:
            watchdog = tasks.create_task(_until_disconnected(client))
            await self._pump(client)
            watchdog.cancel()

    async def _pump(self, client: aiomqtt.Client) -> None:
        while True:
            # Cleared before reading, so an append finishing after the read still wakes us.
            self._new_data.clear()
            batch = await asyncio.to_thread(self._buffer.read, self._max_in_flight)
            if batch.records:
                await self._send(client, batch)
                continue
            if self._finishing:
                await client.publish(
                    self._status_topic, OFFLINE, qos=1, retain=True, timeout=self._timeout()
                )
                logger.info("uplink: buffer delivered; status %s = offline", self._status_topic)
                return
            await self._new_data.wait()

    async def _send(self, client: aiomqtt.Client, batch: Batch) -> None:
        messages: list[UplinkMessage] = []
        for record in batch.records:
            try:
                messages.append(decode(record))
            except BadRecord as exc:
                self._stats.refused_records += 1
                logger.error("uplink: skipped an unreadable buffer record: %s", exc)
        # Every publish is issued before the first await completes, so they go out in order.
        await asyncio.gather(
            *(
                client.publish(message.topic, message.payload, qos=1, timeout=self._timeout())
                for message in messages
            )
        )
        await asyncio.to_thread(self._ack, batch)
        self._stats.published += len(messages)

    def _ack(self, batch: Batch) -> None:
        self._buffer.ack(batch)
        self._stats.buffer = self._buffer.stats()


async def _until_disconnected(client: aiomqtt.Client) -> None:
    # The uplink subscribes to nothing, so the message iterator only ever ends by raising
    # MqttError when the connection drops: that stops the pump instead of waiting for
    # PUBACK timeouts.
    async for _ in client.messages:
        pass
