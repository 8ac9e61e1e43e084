"""Test helpers shared by the uplink and ingest tests: messages with a sequence number, and
a subscriber that stays subscribed across broker restarts (persistent session)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt

from posfleet.exporters.mqtt_uplink.connection import BrokerOptions, make_client
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from posfleet.telemetry.docs import EXAMPLE_STATUS, EXAMPLE_TRANSACTION

BASE_TIME = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def status_body(
    terminal: str = "T-1", seq: int = 0, merchant: str = "acme", store: str = "S-1"
) -> dict[str, Any]:
    """The documented full snapshot for ``terminal``; ``seq`` in the printer's line count."""
    body = copy.deepcopy(EXAMPLE_STATUS)
    body.update(terminal_id=terminal, merchant_id=merchant, store_id=store)
    body["observed_at"] = (BASE_TIME + timedelta(seconds=seq)).isoformat()
    body["printer"]["receipt_lines_printed_total"] = seq
    return body


def status(terminal: str = "T-1", seq: int = 0, **identity: str) -> StatusSnapshot:
    return StatusSnapshot.model_validate(status_body(terminal, seq, **identity))


def transaction(terminal: str = "T-1", seq: int = 0) -> TransactionEvent:
    body = copy.deepcopy(EXAMPLE_TRANSACTION)
    body.update(
        terminal_id=terminal,
        merchant_id="acme",
        store_id="S-1",
        transaction_id=f"{terminal}-{seq:06d}",
        stan=f"{seq:06d}",
    )
    return TransactionEvent.model_validate(body)


def sequence_of(payload: bytes) -> int:
    value: int = json.loads(payload)["printer"]["receipt_lines_printed_total"]
    return value


@dataclass
class Subscriber:
    """Collects (topic, payload) from ``topic`` with a persistent session; reconnects."""

    url: str
    topic: str
    client_id: str
    received: list[tuple[str, bytes]] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    def client(self) -> aiomqtt.Client:
        return make_client(BrokerOptions(self.url, self.client_id, session_expiry_seconds=600))

    async def run(self) -> None:
        while True:
            try:
                async with self.client() as client:
                    await client.subscribe(self.topic, qos=1)
                    self.subscribed.set()
                    async for message in client.messages:
                        payload = message.payload
                        assert isinstance(payload, bytes)
                        self.received.append((str(message.topic), payload))
            except aiomqtt.MqttError:
                self.subscribed.clear()
                await asyncio.sleep(0.2)

    async def wait_for(self, count: int, seconds: float = 20.0) -> list[tuple[str, bytes]]:
        async with asyncio.timeout(seconds):
            while len(self.received) < count:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        return self.received


@contextlib.asynccontextmanager
async def subscribed(url: str, topic: str, client_id: str) -> AsyncIterator[Subscriber]:
    subscriber = Subscriber(url, topic, client_id)
    task = asyncio.create_task(subscriber.run())
    try:
        async with asyncio.timeout(10):
            await subscriber.subscribed.wait()
        yield subscriber
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def retained(url: str, topic: str, seconds: float = 5.0) -> bytes | None:
    """The retained message of ``topic`` (None when there is none)."""
    client = aiomqtt.Client(url.split("//")[1].split(":")[0], int(url.rsplit(":", 1)[1]))
    async with client:
        await client.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(seconds):
                async for message in client.messages:
                    payload = message.payload
                    assert isinstance(payload, bytes)
                    return payload
        except TimeoutError:
            return None
    return None
