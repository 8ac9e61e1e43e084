"""The poller: intervals, jitter, backoff, timeouts, concurrency, with a hand-driven clock."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from posfleet.collector.driver import Driver, DriverError
from posfleet.collector.metrics import CollectorStats
from posfleet.collector.poller import Poller, PollJob
from posfleet.config.models import CollectorSettings
from tests.collector.fakes import (
    FakeClock,
    HangingDriver,
    RecordingListener,
    ScriptedDriver,
    always_failing,
    always_good,
    gaps,
    good_reading,
    settle,
    wait_for,
)

PollerFactory = Callable[..., Poller]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def listener() -> RecordingListener:
    return RecordingListener()


@pytest.fixture
async def make_poller(
    clock: FakeClock, listener: RecordingListener
) -> AsyncIterator[PollerFactory]:
    """Builds a poller (settings as keyword arguments) and runs it until the test ends."""
    tasks: list[asyncio.Task[None]] = []

    def make(jobs: list[tuple[str, Driver, float]], **settings: Any) -> Poller:
        poller = Poller(
            CollectorSettings(**settings),
            listener,
            CollectorStats(),
            clock=clock,
            rng=random.Random(7),
        )
        for terminal_id, driver, interval in jobs:
            poller.add(PollJob(terminal_id, 0, "fake", driver, interval))
        tasks.append(asyncio.create_task(poller.run()))
        return poller

    yield make
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_polls_every_interval_without_jitter(
    clock: FakeClock, make_poller: PollerFactory
) -> None:
    driver = always_good(clock)
    make_poller([("T-1", driver, 10.0)], jitter_ratio=0.0)
    await clock.advance(100)
    assert len(driver.read_times) >= 9
    assert set(gaps(driver.read_times)) == {10.0}


async def test_first_polls_spread_over_the_first_interval(
    clock: FakeClock, make_poller: PollerFactory
) -> None:
    drivers = [always_good(clock) for _ in range(50)]
    start = clock.time
    make_poller([(f"T-{i}", d, 10.0) for i, d in enumerate(drivers)], jitter_ratio=0.0)
    await clock.advance(10)
    firsts = [d.read_times[0] - start for d in drivers]
    assert all(0 <= first <= 10 for first in firsts)
    assert max(firsts) - min(firsts) > 5  # not all at once


async def test_jitter_stays_within_its_ratio(clock: FakeClock, make_poller: PollerFactory) -> None:
    driver = always_good(clock)
    make_poller([("T-1", driver, 10.0)], jitter_ratio=0.2)
    await clock.advance(500)
    intervals = gaps(driver.read_times)
    assert len(intervals) > 30
    assert all(8.0 <= gap <= 12.0 for gap in intervals)
    assert len(set(intervals)) > 10  # actually spread


async def test_failing_source_backs_off_doubling_up_to_the_cap(
    clock: FakeClock, make_poller: PollerFactory
) -> None:
    driver = always_failing(clock)
    make_poller([("T-1", driver, 10.0)], jitter_ratio=0.0, backoff_max_seconds=50.0)
    await clock.advance(400)
    assert gaps(driver.read_times)[:6] == [10.0, 20.0, 40.0, 50.0, 50.0, 50.0]


async def test_backoff_resets_after_a_good_read(
    clock: FakeClock, make_poller: PollerFactory
) -> None:
    # Fails on reads 1-3, then answers.
    driver = ScriptedDriver(
        clock, lambda n: DriverError("unreachable", "down") if n <= 3 else good_reading(clock)
    )
    make_poller([("T-1", driver, 10.0)], jitter_ratio=0.0, backoff_max_seconds=300.0)
    await clock.advance(200)
    assert gaps(driver.read_times)[:5] == [10.0, 20.0, 40.0, 10.0, 10.0]


async def test_bad_input_does_not_back_off(
    clock: FakeClock, make_poller: PollerFactory, listener: RecordingListener
) -> None:
    driver = always_failing(clock, reason="malformed")
    poller = make_poller([("T-1", driver, 10.0)], jitter_ratio=0.0)
    await clock.advance(100)
    assert set(gaps(driver.read_times)) == {10.0}
    assert all(failure.bad_input for _, failure in listener.failures)
    assert poller.jobs[0].failures == 0


async def test_a_hanging_source_times_out_without_delaying_others(
    clock: FakeClock, make_poller: PollerFactory, listener: RecordingListener
) -> None:
    hanging = HangingDriver()
    good = always_good(clock)
    make_poller(
        [("T-hangs", hanging, 10.0), ("T-good", good, 10.0)],
        jitter_ratio=0.0,
        timeout_seconds=0.05,  # asyncio.timeout runs on the real loop clock
        max_concurrent_polls=2,
    )
    await clock.advance(60)
    assert hanging.started == 1  # still stuck in its first poll
    assert set(gaps(good.read_times)) == {10.0}
    assert len(good.read_times) >= 5
    await wait_for(lambda: any(t == "T-hangs" for t, _ in listener.failures))
    failure = next(f for t, f in listener.failures if t == "T-hangs")
    assert failure.reason == "timeout"
    assert not failure.bad_input


async def test_concurrency_bound_is_respected(
    clock: FakeClock, make_poller: PollerFactory, listener: RecordingListener
) -> None:
    drivers = [HangingDriver() for _ in range(10)]
    poller = make_poller(
        [(f"T-{i}", d, 10.0) for i, d in enumerate(drivers)],
        max_concurrent_polls=3,
        timeout_seconds=600.0,
    )
    await clock.advance(20)
    assert sum(d.started for d in drivers) == 3
    assert poller.in_flight == 3
    for driver in drivers:
        driver.release.set()
    await clock.advance(10)
    assert all(d.started >= 1 for d in drivers)
    assert len(listener.successes) >= 10


async def test_a_driver_bug_is_a_failure_not_a_crash(
    clock: FakeClock, make_poller: PollerFactory, listener: RecordingListener
) -> None:
    broken = ScriptedDriver(clock, lambda _: ZeroDivisionError("oops"))
    good = always_good(clock)
    make_poller([("T-broken", broken, 10.0), ("T-good", good, 10.0)], jitter_ratio=0.0)
    await clock.advance(50)
    assert {f.reason for t, f in listener.failures if t == "T-broken"} == {"internal"}
    assert len(good.read_times) >= 4


async def test_cancelling_the_poller_cancels_polls_in_flight(clock: FakeClock) -> None:
    hanging = HangingDriver()
    poller = Poller(CollectorSettings(timeout_seconds=600.0), RecordingListener(), clock=clock)
    poller.add(PollJob("T-1", 0, "fake", hanging, 10.0))
    task = asyncio.create_task(poller.run())
    await clock.advance(11)
    assert poller.in_flight == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await settle()
    assert poller.in_flight == 0


async def test_pending_source_is_neither_failing_nor_backed_off(
    clock: FakeClock, make_poller: PollerFactory, listener: RecordingListener
) -> None:
    driver = always_failing(clock, reason="pending")
    make_poller([("T-1", driver, 10.0)], jitter_ratio=0.0)
    await clock.advance(100)
    assert set(gaps(driver.read_times)) == {10.0}
    assert listener.failures == []
