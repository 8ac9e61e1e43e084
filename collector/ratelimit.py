"""Log at most once per key per interval, so one broken terminal cannot flood the logs."""

from __future__ import annotations

from collections.abc import Hashable

from posfleet.collector.clock import Clock, SystemClock


class LogRateLimiter:
    """Says whether a message about ``key`` may be logged now.

    The table of keys is bounded: keys come from the network (terminal ids in MQTT topics),
    so at ``max_keys`` entries the ones whose interval has passed are dropped, and if none
    has, the table is cleared rather than allowed to grow.
    """

    def __init__(
        self, interval_seconds: float, clock: Clock | None = None, max_keys: int = 50_000
    ) -> None:
        self._interval = interval_seconds
        self._clock = clock or SystemClock()
        self._max_keys = max_keys
        self._last: dict[Hashable, float] = {}

    def allow(self, key: Hashable) -> bool:
        now = self._clock.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            return False
        if last is None and len(self._last) >= self._max_keys:
            self._prune(now)
        self._last[key] = now
        return True

    def _prune(self, now: float) -> None:
        self._last = {k: t for k, t in self._last.items() if now - t < self._interval}
        if len(self._last) >= self._max_keys:
            self._last.clear()
