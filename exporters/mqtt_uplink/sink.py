"""The uplink Sink: every snapshot and transaction event goes to the disk buffer first, and a
:class:`~posfleet.exporters.mqtt_uplink.sender.BufferSender` delivers it to the central
broker, so an outage or a ``kill -9`` loses nothing that ``publish`` accepted.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from pathlib import Path

import aiomqtt

from posfleet.collector.clock import Clock, SystemClock
from posfleet.collector.ratelimit import LogRateLimiter
from posfleet.config.models import PosfleetConfig, UplinkSettings
from posfleet.exporters.buffer import DiskBuffer
from posfleet.exporters.mqtt_uplink.connection import BrokerOptions, make_client
from posfleet.exporters.mqtt_uplink.metrics import UplinkMetrics, UplinkStats
from posfleet.exporters.mqtt_uplink.records import UplinkMessage, encode
from posfleet.exporters.mqtt_uplink.sender import OFFLINE, BufferSender
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from posfleet.topics import MessageKind, collector_online_topic, terminal_topic

logger = logging.getLogger(__name__)

BUFFER_SUBDIRECTORY = "uplink"


def broker_options(settings: UplinkSettings, collector_id: str) -> BrokerOptions:
    return BrokerOptions(
        url=settings.url,
        client_id=collector_id,
        session_expiry_seconds=settings.session_expiry_seconds,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        ca_file=settings.ca_file,
        client_cert_file=settings.client_cert_file,
        client_key_file=settings.client_key_file,
    )


def uplink_client_factory(
    settings: UplinkSettings, collector_id: str
) -> Callable[[], aiomqtt.Client]:
    """Connections with the collector's id as client id and an ``offline`` Last Will."""
    options = broker_options(settings, collector_id)
    will = aiomqtt.Will(
        collector_online_topic(settings.topic_prefix, collector_id), OFFLINE, qos=1, retain=True
    )
    return lambda: make_client(options, will=will, max_inflight=settings.max_in_flight)


class MqttUplinkSink:
    """Publishes snapshots and transaction events to ``<uplink.topic_prefix>/...`` (QoS 1).

    ``publish`` returns once the message is on disk (appends from concurrent callers are
    written together); call :meth:`start` at start-up so that what an earlier run left in
    the buffer is delivered before the first new message, and :meth:`close` at shutdown.
    """

    def __init__(
        self,
        settings: UplinkSettings,
        collector_id: str,
        buffer: DiskBuffer,
        *,
        connect: Callable[[], aiomqtt.Client] | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        drain_seconds: float = 5.0,
        reconnect_max_seconds: float = 60.0,
    ) -> None:
        self._prefix = settings.topic_prefix
        self._buffer = buffer
        self._clock = clock or SystemClock()
        self._drain_seconds = drain_seconds
        self.stats = UplinkStats(buffer=buffer.stats())
        self.status_topic = collector_online_topic(settings.topic_prefix, collector_id)
        self._sender = BufferSender(
            buffer,
            connect or uplink_client_factory(settings, collector_id),
            self.status_topic,
            self.stats,
            max_in_flight=settings.max_in_flight,
            publish_timeout_seconds=settings.publish_timeout_seconds,
            reconnect_max_seconds=reconnect_max_seconds,
            clock=self._clock,
            rng=rng,
        )
        self._sender_task: asyncio.Task[None] | None = None
        self._pending: list[bytes] = []
        self._written: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._log_limiter = LogRateLimiter(60.0, self._clock)
        self._closed = False

    def metrics(self) -> UplinkMetrics:
        """A prometheus_client collector of the ``posfleet_uplink_*`` self-metrics."""
        return UplinkMetrics(self.stats)

    async def start(self) -> None:
        """Start delivering (also started by the first ``publish``)."""
        if self._sender_task is None and not self._closed:
            self._sender_task = asyncio.create_task(self._sender.run(), name="mqtt-uplink")
            self._sender_task.add_done_callback(_report_crash)

    async def publish(self, snapshot: StatusSnapshot) -> None:
        await self._store(snapshot, "status", snapshot.model_dump_json(exclude_none=True))

    async def publish_transaction(self, event: TransactionEvent) -> None:
        await self._store(event, "transactions", event.model_dump_json(exclude_none=True))

    async def _store(
        self, message: StatusSnapshot | TransactionEvent, kind: MessageKind, body: str
    ) -> None:
        if self._closed:
            logger.warning("uplink: %s after close ignored", kind)
            return
        await self.start()
        topic = terminal_topic(
            self._prefix, message.merchant_id, message.store_id, message.terminal_id, kind
        )
        self._pending.append(encode(UplinkMessage(topic, body.encode())))
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
        written = self._written
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        await asyncio.shield(written)

    async def _write_pending(self) -> None:
        # Group commit: everything that arrived while the previous write ran goes in one
        # append (one thread hop, one write call) instead of one each.
        while self._pending:
            records, self._pending = self._pending, []
            written, self._written = self._written, None
            try:
                await asyncio.to_thread(self._append, records)
            except OSError as exc:
                self.stats.append_failures += len(records)
                if self._log_limiter.allow("append"):
                    logger.error(
                        "uplink: %d messages lost, buffer not writable: %s", len(records), exc
                    )
            finally:
                if written is not None and not written.done():
                    written.set_result(None)
            self._sender.wake()

    def _append(self, records: list[bytes]) -> None:
        self._buffer.append(records)
        self.stats.buffer = self._buffer.stats()

    async def close(self) -> None:
        """Write what is pending, deliver the buffer for up to ``drain_seconds`` (what is
        left stays on disk for the next start), say ``offline`` and disconnect."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            await self._writer
        task = self._sender_task
        if task is None:
            return
        self._sender.finish()
        done, _ = await asyncio.wait({task}, timeout=self._drain_seconds)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            logger.warning(
                "uplink: stopped with %d messages still buffered; they go out on the next start",
                self.stats.buffer.pending_records if self.stats.buffer else 0,
            )


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("uplink sender stopped", exc_info=task.exception())


def build_uplink_sink(
    config: PosfleetConfig, *, connect: Callable[[], aiomqtt.Client] | None = None
) -> MqttUplinkSink | None:
    """The uplink Sink the ``uplink:`` section asks for (None without one).

    Opens (and recovers) the buffer under ``<buffer.directory>/uplink``: blocking file
    I/O, done once at start-up.
    """
    settings = config.uplink
    if settings is None:
        return None
    buffer = DiskBuffer(
        Path(config.buffer.directory) / BUFFER_SUBDIRECTORY, max_bytes=config.buffer.max_bytes
    )
    return MqttUplinkSink(settings, config.collector.id, buffer, connect=connect)
