"""What happens after each poll: update the fleet state, publish the merged snapshot, log
failures (at most once per terminal per interval)."""

from __future__ import annotations

import logging

from posfleet.collector.clock import Clock
from posfleet.collector.driver import Reading
from posfleet.collector.poller import PollFailure, PollJob
from posfleet.collector.ratelimit import LogRateLimiter
from posfleet.collector.sink import Sink
from posfleet.collector.state import FleetState

logger = logging.getLogger(__name__)


class Recorder:
    """The poller's listener in the running collector."""

    def __init__(
        self, state: FleetState, sink: Sink, clock: Clock, log_limiter: LogRateLimiter
    ) -> None:
        self._state = state
        self._sink = sink
        self._clock = clock
        self._log_limiter = log_limiter

    async def on_success(self, job: PollJob, reading: Reading) -> None:
        snapshot = self._state.record_success(
            job.terminal_id, job.source_index, reading, self._clock.now()
        )
        if snapshot is not None:
            await self._sink.publish(snapshot)

    async def on_failure(self, job: PollJob, failure: PollFailure) -> None:
        self._state.record_failure(
            job.terminal_id,
            job.source_index,
            failure.reason,
            failure.message,
            self._clock.now(),
            bad_input=failure.bad_input,
        )
        if self._log_limiter.allow(job.terminal_id):
            streak = "" if failure.bad_input else f" (failed {job.failures} times in a row)"
            logger.warning(
                "%s via %s: %s: %s%s",
                job.terminal_id,
                job.driver_name,
                failure.reason,
                failure.message,
                streak,
            )
