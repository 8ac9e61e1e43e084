"""Remote-write from the edge: the current state, every interval, through a disk buffer.

Every ``interval_seconds`` the writer takes every terminal sample and the self-metrics,
stamps them with the current time, encodes them as WriteRequests of at most
``max_samples_per_request`` samples, snappy-compresses them and appends them to a
:class:`~posfleet.exporters.buffer.DiskBuffer`. A sender sends the buffer's requests
strictly in order, one at a time: an outage of the receiver only makes the buffer grow
(up to its size cap), and the backlog is replayed in order once it answers again, so no
series ever receives an older sample after a newer one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import aiohttp
import cramjam
from prometheus_client.registry import Collector, CollectorRegistry

from posfleet.backoff import exponential_backoff
from posfleet.collector.clock import Clock, SystemClock
from posfleet.collector.state import TerminalView
from posfleet.config.models import PosfleetConfig, RemoteWriteSettings
from posfleet.exporters.buffer import DiskBuffer
from posfleet.exporters.remote_write.metrics import RemoteWriteMetrics, RemoteWriteStats
from posfleet.exporters.remote_write.protobuf import SampleEncoder, write_request
from posfleet.exporters.remote_write.sender import (
    HEADERS,
    Answer,
    Verdict,
    auth_headers,
    post,
)
from posfleet.exporters.remote_write.series import (
    EncodedSeries,
    TerminalSeries,
    batches,
    registry_series,
)

logger = logging.getLogger(__name__)

_RECORD_HEADER: Final = struct.Struct("<I")  # samples in the request that follows
MAX_RETRY_AFTER_SECONDS: Final = 600.0
BUFFER_SUBDIRECTORY: Final = "remote_write"


def encode_record(batch: Sequence[EncodedSeries], encoder: SampleEncoder) -> bytes:
    """One buffer record: sample count, then the snappy-compressed WriteRequest."""
    body = write_request(encoder.timeseries(labels, value) for labels, value in batch)
    return _RECORD_HEADER.pack(len(batch)) + bytes(cramjam.snappy.compress_raw(body))


def decode_record(record: bytes) -> tuple[int, bytes]:
    """(samples, compressed WriteRequest) of a buffer record; ValueError if too short."""
    if len(record) < _RECORD_HEADER.size:
        raise ValueError(f"record of {len(record)} bytes has no sample count")
    (count,) = _RECORD_HEADER.unpack_from(record)
    return count, record[_RECORD_HEADER.size :]


class RemoteWriter:
    """Sends the terminals' current samples (and ``self_metrics``) with remote-write 1.0.

    ``views`` returns the current terminal views (``FleetState.terminals``); ``instance``
    is the collector's id. Clock, random source and HTTP session are arguments so tests
    can drive them.
    """

    def __init__(
        self,
        settings: RemoteWriteSettings,
        views: Callable[[], Iterable[TerminalView]],
        buffer: DiskBuffer,
        *,
        instance: str,
        self_metrics: Collector | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.settings = settings
        self.buffer = buffer
        self.stats = RemoteWriteStats()
        self.metrics = RemoteWriteMetrics(self.stats, buffer.stats)
        self._views = views
        self._self_metrics = self_metrics
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._session = session
        self._labels = {"job": settings.job, "instance": instance}
        self._terminals = TerminalSeries(self._labels)
        self._headers = {
            **HEADERS,
            **auth_headers(settings.username, settings.password, settings.bearer_token),
        }
        self._pending = asyncio.Event()
        self._failing = False

    # --- producing ------------------------------------------------------------------------

    def _encode(
        self, views: list[TerminalView], own: list[EncodedSeries], timestamp_ms: int
    ) -> list[bytes]:
        series = self._terminals.collect(views)
        series.extend(own)
        encoder = SampleEncoder(timestamp_ms)
        size = self.settings.max_samples_per_request
        return [encode_record(batch, encoder) for batch in batches(series, size)]

    async def collect_once(self) -> int:
        """Queue the current samples for sending; returns how many."""
        views = list(self._views())
        # Self-metrics read counters the event loop updates: collect them here, not in a thread.
        own = registry_series(self._self_metrics, self._labels) if self._self_metrics else []
        timestamp_ms = int(self._clock.now().timestamp() * 1000)
        records = await asyncio.to_thread(self._encode, views, own, timestamp_ms)
        await asyncio.to_thread(self.buffer.append, records)
        self._pending.set()
        return sum(decode_record(record)[0] for record in records)

    # --- sending --------------------------------------------------------------------------

    def _delay(self, failures: int, answer: Answer) -> float:
        if answer.retry_after is not None:
            return min(answer.retry_after, MAX_RETRY_AFTER_SECONDS)
        backoff = exponential_backoff(
            self.settings.min_backoff_seconds, failures, self.settings.max_backoff_seconds
        )
        # Jitter keeps many edge collectors from retrying against one receiver in lockstep.
        return backoff * self._rng.uniform(0.8, 1.0)

    async def _deliver(self, session: aiohttp.ClientSession, samples: int, body: bytes) -> None:
        """Send one request until it is stored or refused for good."""
        failures = 0
        while True:
            answer = await post(
                session,
                self.settings.url,
                body,
                self._headers,
                timeout_seconds=self.settings.timeout_seconds,
                now=self._clock.now(),
            )
            if answer.verdict is Verdict.SENT:
                self.stats.samples_sent += samples
                self.stats.last_success = self._clock.now().timestamp()
                if self._failing:
                    logger.info("remote write to %s works again", self.settings.url)
                    self._failing = False
                return
            if answer.verdict is Verdict.REJECTED:
                self.stats.samples_dropped["rejected"] += samples
                logger.warning(
                    "remote write: %s refused %d samples for good (%s); dropped",
                    self.settings.url,
                    samples,
                    answer.detail,
                )
                return
            self.stats.samples_failed[answer.reason] += samples
            delay = self._delay(failures, answer)
            if not self._failing:
                logger.warning(
                    "remote write to %s failed (%s: %s); retrying, buffering meanwhile",
                    self.settings.url,
                    answer.reason,
                    answer.detail,
                )
                self._failing = True
            failures += 1
            await self._clock.sleep(delay)
            self.stats.samples_retried += samples

    async def send_pending(self, session: aiohttp.ClientSession) -> None:
        """Send buffered requests, oldest first, until the buffer is empty."""
        while True:
            batch = await asyncio.to_thread(self.buffer.read, 1)
            if not batch.records:
                return
            try:
                samples, body = decode_record(batch.records[0])
            except ValueError as exc:
                logger.error("remote write: skipped a buffered request: %s", exc)
            else:
                await self._deliver(session, samples, body)
            await asyncio.to_thread(self.buffer.ack, batch)

    # --- running --------------------------------------------------------------------------

    async def _produce(self) -> None:
        interval = self.settings.interval_seconds
        while True:
            started = self._clock.monotonic()
            try:
                await self.collect_once()
            except Exception:
                logger.exception("remote write: collecting samples failed")
            await self._clock.sleep(max(0.0, interval - (self._clock.monotonic() - started)))

    async def _send(self, session: aiohttp.ClientSession) -> None:
        while True:
            self._pending.clear()
            try:
                await self.send_pending(session)
            except Exception:
                logger.exception("remote write: sending failed")
                await self._clock.sleep(self.settings.max_backoff_seconds)
                continue
            await self._pending.wait()

    async def run(self) -> None:
        """Collect and send until cancelled; whatever is unsent stays in the buffer."""
        session = self._session or aiohttp.ClientSession()
        try:
            await asyncio.gather(self._produce(), self._send(session))
        finally:
            if self._session is None:
                await session.close()


@asynccontextmanager
async def running_remote_writer(
    config: PosfleetConfig,
    views: Callable[[], Iterable[TerminalView]],
    registry: CollectorRegistry,
    *,
    clock: Clock | None = None,
) -> AsyncIterator[RemoteWriter]:
    """Start remote-write as ``config.remote_write`` says (it must be set), with its
    metrics in ``registry``; stop it on exit. Raises OSError if the buffer cannot be set up.
    """
    settings = config.remote_write
    if settings is None:
        raise ValueError("remote_write is not configured")
    directory = Path(config.buffer.directory) / BUFFER_SUBDIRECTORY
    buffer = await asyncio.to_thread(DiskBuffer, directory, max_bytes=config.buffer.max_bytes)
    writer = RemoteWriter(
        settings, views, buffer, instance=config.collector.id, self_metrics=registry, clock=clock
    )
    registry.register(writer.metrics)
    task = asyncio.create_task(writer.run(), name="remote-write")
    logger.info("remote write to %s every %g s", settings.url, settings.interval_seconds)
    try:
        yield writer
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        registry.unregister(writer.metrics)
