"""Publish MQTT terminals' status snapshots and transaction events to the broker (QoS 1),
on the standard topics of :mod:`posfleet.topics`, as the terminals themselves would."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiomqtt

from posfleet.simulator.engine import Emitted
from posfleet.topics import DEFAULT_PREFIX, terminal_topic

log = logging.getLogger(__name__)
QUEUE_LIMIT = 100_000
RETRY_SECONDS = 2.0

Message = tuple[str, bytes]


def messages_for(emitted: Emitted, prefix: str = DEFAULT_PREFIX) -> list[Message]:
    """(topic, payload) of everything MQTT terminals pushed in ``emitted``."""
    out: list[Message] = []
    for spec, snapshot in emitted.statuses:
        if spec.driver == "mqtt":
            topic = terminal_topic(prefix, spec.store.merchant.id, spec.store.id, spec.id,
                                   "status")
            out.append((topic, snapshot.model_dump_json(exclude_none=True).encode()))
    for spec, event in emitted.transactions:
        if spec.driver == "mqtt":
            topic = terminal_topic(prefix, spec.store.merchant.id, spec.store.id, spec.id,
                                   "transactions")
            out.append((topic, event.model_dump_json(exclude_none=True).encode()))
    return out


def broker_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"--mqtt-url must look like mqtt://host:1883 (got {url!r})")
    return parts.hostname, parts.port or 1883


ClientFactory = Callable[[str, int], aiomqtt.Client]


def _client(host: str, port: int) -> aiomqtt.Client:
    return aiomqtt.Client(hostname=host, port=port, identifier="posfleet-simulator")


class MqttPublisher:
    """Queues messages and publishes them from one connection; reconnects when the broker
    goes away, dropping (and counting) what does not fit in the queue meanwhile."""

    def __init__(
        self,
        url: str,
        *,
        client_factory: ClientFactory = _client,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._host, self._port = broker_address(url)
        self._client_factory = client_factory
        self._sleep = sleep
        self._queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_LIMIT)
        self.published_total = 0
        self.dropped_total = 0
        self.connected = asyncio.Event()

    def submit(self, messages: list[Message]) -> None:
        for message in messages:
            try:
                self._queue.put_nowait(message)
            except asyncio.QueueFull:
                self.dropped_total += 1

    async def flush(self) -> None:
        """Wait until every queued message has been published."""
        await self._queue.join()

    async def run(self) -> None:
        """Publish until cancelled."""
        while True:
            try:
                async with self._client_factory(self._host, self._port) as client:
                    self.connected.set()
                    log.info("publishing to mqtt://%s:%d", self._host, self._port)
                    while True:
                        topic, payload = await self._queue.get()
                        try:
                            await client.publish(topic, payload, qos=1)
                            self.published_total += 1
                        finally:
                            self._queue.task_done()
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                log.warning("MQTT broker unavailable (%s); retrying in %.0f s", exc,
                            RETRY_SECONDS)
                await self._sleep(RETRY_SECONDS)
