"""Test doubles for the collector: a hand-driven clock and scripted drivers."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from posfleet.collector.driver import DriverError, Reading
from posfleet.collector.poller import PollFailure, PollJob
from posfleet.telemetry import NetworkStatus, PrinterStatus

EPOCH = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


async def settle(rounds: int = 50) -> None:
    """Let every ready task run until the loop is idle (no real time passes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeClock:
    """Time moves only when the test calls :meth:`advance`."""

    def __init__(self, start: float = 1000.0) -> None:
        self.time = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._sequence = itertools.count()

    def monotonic(self) -> float:
        return self.time

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self.time)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        deadline = self.time + max(0.0, seconds)
        heapq.heappush(self._sleepers, (deadline, next(self._sequence), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in order and letting tasks run at each step."""
        target = self.time + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            if future.done():
                continue
            self.time = max(self.time, deadline)
            future.set_result(None)
            await settle()
        self.time = target
        await settle()


def good_reading(clock: FakeClock) -> Reading:
    return Reading(
        observed_at=clock.now(),
        parts={"network": NetworkStatus(link_up=True)},
        device={"serial": "SN-1"},
    )


def printer_reading(clock: FakeClock, paper: str = "ok") -> Reading:
    return Reading(
        observed_at=clock.now(),
        parts={"printer": PrinterStatus.model_validate({"online": True, "paper": paper})},
    )


class ScriptedDriver:
    """Records when it was read; each read runs the next step of ``behaviour``."""

    def __init__(self, clock: FakeClock, behaviour: Callable[[int], Reading | Exception]) -> None:
        self.clock = clock
        self.behaviour = behaviour
        self.read_times: list[float] = []

    async def read(self) -> Reading:
        self.read_times.append(self.clock.monotonic())
        outcome = self.behaviour(len(self.read_times))
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def always_good(clock: FakeClock) -> ScriptedDriver:
    return ScriptedDriver(clock, lambda _: good_reading(clock))


def always_failing(clock: FakeClock, reason: str = "unreachable") -> ScriptedDriver:
    return ScriptedDriver(clock, lambda _: DriverError(reason, "connection refused"))


class HangingDriver:
    """Never answers until released."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def read(self) -> Reading:
        self.started += 1
        await self.release.wait()
        return Reading(observed_at=EPOCH, parts={})


class RecordingListener:
    """Keeps every outcome the poller reports."""

    def __init__(self) -> None:
        self.successes: list[tuple[str, Reading]] = []
        self.failures: list[tuple[str, PollFailure]] = []

    async def on_success(self, job: PollJob, reading: Reading) -> None:
        self.successes.append((job.terminal_id, reading))

    async def on_failure(self, job: PollJob, failure: PollFailure) -> None:
        self.failures.append((job.terminal_id, failure))


def gaps(times: list[float]) -> list[float]:
    return [round(later - earlier, 6) for earlier, later in itertools.pairwise(times)]


async def wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait (real time) until ``condition`` holds; fail the test if it never does."""
    async with asyncio.timeout(within):
        # Polling: the conditions are about state that has no event to wait on.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
