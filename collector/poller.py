"""The wrapper around drivers: when to poll each source, how long a poll may take, what a
failure costs.

One scheduler task keeps a heap of next-due times; a source whose time has come gets a slot
from one semaphore shared by all (``max_concurrent_polls``) and is read in its own short-lived
task, under ``asyncio.timeout``. Between polls a source costs one heap entry and one small
object, so 10,000 terminals need no 10,000 sleeping tasks. A source that hangs holds only its
own slot until the timeout, so the others keep their schedule.

After a good read the next poll comes one interval later (spread by ``jitter_ratio``). After
a failure the wait doubles with each consecutive failure, up to ``backoff_max_seconds``. Bad
input (the source answered with data that was refused) is not a failure for backoff: the
source is reachable and is polled at its interval.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import random
from dataclasses import dataclass
from typing import Protocol

from posfleet.backoff import exponential_backoff
from posfleet.collector.clock import Clock, SystemClock
from posfleet.collector.driver import Driver, DriverError, Reading
from posfleet.collector.inputs import BAD_INPUT_REASONS, PENDING, AlreadyCountedBadInput
from posfleet.collector.metrics import CollectorStats
from posfleet.config.models import CollectorSettings

logger = logging.getLogger(__name__)

TIMEOUT = "timeout"
INTERNAL = "internal"
"""A driver raised something other than DriverError: a bug, logged with its traceback."""


@dataclass(slots=True, eq=False)
class PollJob:
    """One source of one terminal, as the scheduler sees it."""

    terminal_id: str
    source_index: int
    driver_name: str
    driver: Driver
    interval: float
    failures: int = 0
    """Consecutive failed polls (bad input excluded), for backoff."""


@dataclass(frozen=True, slots=True)
class PollFailure:
    reason: str
    message: str
    bad_input: bool


class PollListener(Protocol):
    """Receives the outcome of every poll (state, sinks and logs live behind it)."""

    async def on_success(self, job: PollJob, reading: Reading) -> None: ...

    async def on_failure(self, job: PollJob, failure: PollFailure) -> None: ...


class Poller:
    """Polls every added source on its own schedule with shared concurrency and timeouts."""

    def __init__(
        self,
        settings: CollectorSettings,
        listener: PollListener,
        stats: CollectorStats | None = None,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._listener = listener
        self._stats = stats or CollectorStats()
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._slots = asyncio.Semaphore(settings.max_concurrent_polls)
        self._heap: list[tuple[float, int, PollJob]] = []
        self._sequence = 0
        self._wakeup = asyncio.Event()
        self._sleeping_until = math.inf
        self._in_flight: set[asyncio.Task[None]] = set()
        self._jobs: list[PollJob] = []

    @property
    def jobs(self) -> tuple[PollJob, ...]:
        return tuple(self._jobs)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def add(self, job: PollJob) -> None:
        """Schedule a source; its first poll comes at a random point of its first interval,
        so that a collector starting with thousands of terminals does not poll them at once."""
        self._jobs.append(job)
        self._schedule(job, self._clock.monotonic() + self._rng.uniform(0, job.interval))

    def next_delay(self, job: PollJob) -> float:
        """Seconds until the next poll of ``job``, given its consecutive failures."""
        base = job.interval
        if job.failures > 0:
            ceiling = max(self._settings.backoff_max_seconds, job.interval)
            base = exponential_backoff(job.interval, job.failures - 1, ceiling)
        spread = self._settings.jitter_ratio
        return base * (1.0 + self._rng.uniform(-spread, spread))

    def _schedule(self, job: PollJob, due: float) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (due, self._sequence, job))
        if due < self._sleeping_until:
            self._wakeup.set()

    async def run(self) -> None:
        """Poll until cancelled; cancelling also cancels the polls in flight."""
        try:
            while True:
                await self._dispatch_due()
                await self._wait_for_next_due()
        finally:
            for task in list(self._in_flight):
                task.cancel()
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _dispatch_due(self) -> None:
        while self._heap and self._heap[0][0] <= self._clock.monotonic():
            await self._slots.acquire()
            due, _, job = heapq.heappop(self._heap)
            task = asyncio.create_task(self._poll(job, due))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _wait_for_next_due(self) -> None:
        self._wakeup.clear()
        if not self._heap:
            await self._wakeup.wait()
            return
        self._sleeping_until = self._heap[0][0]
        delay = self._sleeping_until - self._clock.monotonic()
        if delay <= 0:
            self._sleeping_until = math.inf
            return
        sleeper = asyncio.ensure_future(self._clock.sleep(delay))
        waker = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._sleeping_until = math.inf
            sleeper.cancel()
            waker.cancel()

    async def _read(self, job: PollJob) -> Reading | PollFailure:
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                return await job.driver.read()
        except DriverError as exc:
            bad = exc.reason in BAD_INPUT_REASONS
            if bad and not isinstance(exc, AlreadyCountedBadInput):
                self._stats.count_bad_input(job.driver_name, exc.reason)
            return PollFailure(exc.reason, str(exc), bad)
        except TimeoutError:
            return PollFailure(
                TIMEOUT, f"no answer within {self._settings.timeout_seconds:g} s", False
            )
        except Exception as exc:
            logger.exception("driver %s failed reading %s", job.driver_name, job.terminal_id)
            return PollFailure(INTERNAL, f"driver error: {type(exc).__name__}", False)

    async def _poll(self, job: PollJob, due: float) -> None:
        started = self._clock.monotonic()
        try:
            outcome = await self._read(job)
        finally:
            self._slots.release()
        finished = self._clock.monotonic()
        self._stats.record_poll(
            job.driver_name,
            outcome.reason if isinstance(outcome, PollFailure) else None,
            duration=finished - started,
            lag=max(0.0, started - due),
        )
        if isinstance(outcome, PollFailure) and not outcome.bad_input:
            job.failures += 1
        else:
            job.failures = 0
        try:
            if isinstance(outcome, PollFailure) and outcome.reason == PENDING:
                job.failures = 0
            elif isinstance(outcome, PollFailure):
                await self._listener.on_failure(job, outcome)
            else:
                await self._listener.on_success(job, outcome)
        except Exception:
            logger.exception("recording the poll of %s failed", job.terminal_id)
        finally:
            self._schedule(job, self._clock.monotonic() + self.next_delay(job))
