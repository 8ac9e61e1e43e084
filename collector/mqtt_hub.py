"""One MQTT subscriber for every terminal that pushes: keeps each terminal's latest status,
passes transaction events to the sinks, refuses bad messages.

Every message is checked on arrival (size, encoding, JSON, types, card data, that the
terminal is in the inventory and that topic, body and inventory agree on who it is). A
refused message is counted by reason, logged at most once per terminal per interval and
remembered, so the mqtt driver reports the terminal degraded with the reason. Nothing a
terminal sends can stop the hub. When the broker goes away the hub reconnects, waiting
longer after each failed attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import aiomqtt

from posfleet.collector.clock import Clock, SystemClock
from posfleet.collector.driver import DriverError
from posfleet.collector.inputs import (
    UNKNOWN_TERMINAL,
    WRONG_TERMINAL,
    parse_status,
    parse_transaction,
)
from posfleet.collector.metrics import CollectorStats
from posfleet.collector.ratelimit import LogRateLimiter
from posfleet.collector.sink import Sink
from posfleet.config.models import MqttSettings
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from posfleet.topics import MessageKind, parse_terminal_topic, subscription

logger = logging.getLogger(__name__)

DRIVER_LABEL: Final = "mqtt"
MAX_QUEUED_MESSAGES: Final = 100_000


@dataclass(frozen=True, slots=True)
class TerminalAddress:
    """Where the inventory says a terminal stands."""

    merchant_id: str
    store_id: str


@dataclass(frozen=True, slots=True)
class PushedStatus:
    snapshot: StatusSnapshot
    received_at: float
    """Monotonic time of arrival (the terminal's own clock may be wrong)."""


@dataclass(frozen=True, slots=True)
class RefusedInput:
    reason: str
    message: str
    received_at: float


def client_factory(settings: MqttSettings, client_id: str) -> Callable[[], aiomqtt.Client]:
    """Builds broker connections from the ``mqtt`` section (mqtt:// or mqtts://)."""
    url = urlsplit(settings.url)
    tls = url.scheme == "mqtts"
    host = url.hostname or "127.0.0.1"
    port = url.port or (8883 if tls else 1883)
    password = settings.password.get_secret_value() if settings.password else None

    def connect() -> aiomqtt.Client:
        return aiomqtt.Client(
            host,
            port,
            username=settings.username,
            password=password,
            identifier=client_id,
            clean_session=True,
            keepalive=30,
            max_queued_incoming_messages=MAX_QUEUED_MESSAGES,
            tls_params=aiomqtt.TLSParameters(ca_certs=settings.ca_file) if tls else None,
        )

    return connect


def _as_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if payload is None:
        return b""
    return str(payload).encode()


class MqttHub:
    """The shared subscriber; the mqtt driver reads :meth:`latest` from it."""

    def __init__(
        self,
        settings: MqttSettings,
        inventory: Mapping[str, TerminalAddress],
        *,
        connect: Callable[[], aiomqtt.Client],
        sink: Sink | None = None,
        stats: CollectorStats | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        max_payload_bytes: int = 1_048_576,
        log_interval_seconds: float = 15.0,
        reconnect_max_seconds: float = 60.0,
    ) -> None:
        self._prefix = settings.topic_prefix
        self._inventory = inventory
        self._connect = connect
        self._sink = sink
        self._stats = stats or CollectorStats()
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._max_bytes = max_payload_bytes
        self._log_limiter = LogRateLimiter(log_interval_seconds, self._clock)
        self._reconnect_max = reconnect_max_seconds
        self._custom_status_topics: dict[str, str] = {}
        self._latest: dict[str, PushedStatus] = {}
        self._refused: dict[str, RefusedInput] = {}
        self.connected = asyncio.Event()
        """Set while subscribed to the broker."""

    def add_status_topic(self, topic: str, terminal_id: str) -> None:
        """A terminal that publishes its status to a topic of its own (before :meth:`run`)."""
        self._custom_status_topics[topic] = terminal_id

    def latest(self, terminal_id: str) -> tuple[PushedStatus | None, RefusedInput | None]:
        """The terminal's latest good status and latest refused message, if any."""
        return self._latest.get(terminal_id), self._refused.get(terminal_id)

    def subscriptions(self) -> list[str]:
        return [
            subscription(self._prefix, "status"),
            subscription(self._prefix, "transactions"),
            *sorted(self._custom_status_topics),
        ]

    async def run(self) -> None:
        """Stay subscribed until cancelled, reconnecting with backoff."""
        delay = 1.0
        while True:
            try:
                async with self._connect() as client:
                    for topic in self.subscriptions():
                        await client.subscribe(topic, qos=1)
                    self.connected.set()
                    delay = 1.0
                    logger.info("subscribed to %d MQTT topics", len(self.subscriptions()))
                    async for message in client.messages:
                        await self.handle(str(message.topic), _as_bytes(message.payload))
            except aiomqtt.MqttError as exc:
                logger.warning("MQTT broker: %s; reconnecting in %.0f s", exc, delay)
            self.connected.clear()
            await self._clock.sleep(delay * self._rng.uniform(0.8, 1.2))
            delay = min(delay * 2, self._reconnect_max)

    async def handle(self, topic: str, payload: bytes) -> None:
        """Check and store one message; never raises for anything a terminal sent."""
        try:
            await self._handle(topic, payload)
        except Exception:
            logger.exception("handling a message on %s failed", topic)

    def _resolve(self, topic: str) -> tuple[str, MessageKind, TerminalAddress | None] | None:
        custom = self._custom_status_topics.get(topic)
        if custom is not None:
            return custom, "status", None
        parsed = parse_terminal_topic(self._prefix, topic)
        if parsed is None:
            return None
        return parsed.terminal, parsed.kind, TerminalAddress(parsed.merchant, parsed.store)

    async def _handle(self, topic: str, payload: bytes) -> None:
        resolved = self._resolve(topic)
        if resolved is None:
            return
        terminal_id, kind, topic_address = resolved
        expected = self._inventory.get(terminal_id)
        if expected is None:
            self._refuse(None, terminal_id, topic, UNKNOWN_TERMINAL, "not in the inventory")
            return
        if topic_address is not None and topic_address != expected:
            self._refuse(
                terminal_id,
                terminal_id,
                topic,
                WRONG_TERMINAL,
                f"topic says {topic_address.merchant_id}/{topic_address.store_id}, "
                f"the inventory {expected.merchant_id}/{expected.store_id}",
            )
            return
        try:
            message: StatusSnapshot | TransactionEvent = (
                parse_status(payload, self._max_bytes)
                if kind == "status"
                else parse_transaction(payload, self._max_bytes)
            )
        except DriverError as exc:
            self._refuse(terminal_id, terminal_id, topic, exc.reason, str(exc))
            return
        body = (message.terminal_id, TerminalAddress(message.merchant_id, message.store_id))
        if body != (terminal_id, expected):
            self._refuse(
                terminal_id,
                terminal_id,
                topic,
                WRONG_TERMINAL,
                f"the body is from {message.merchant_id}/{message.store_id}/"
                f"{message.terminal_id}, the topic belongs to {terminal_id}",
            )
            return
        if isinstance(message, StatusSnapshot):
            self._latest[terminal_id] = PushedStatus(message, self._clock.monotonic())
        elif self._sink is not None:
            await self._sink.publish_transaction(message)

    def _refuse(
        self, terminal_id: str | None, log_key: str, topic: str, reason: str, message: str
    ) -> None:
        self._stats.count_bad_input(DRIVER_LABEL, reason)
        if terminal_id is not None:
            self._refused[terminal_id] = RefusedInput(reason, message, self._clock.monotonic())
        if self._log_limiter.allow(log_key):
            logger.warning("refused message on %s: %s: %s", topic, reason, message)
