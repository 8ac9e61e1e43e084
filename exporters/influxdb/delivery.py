"""Deliver one batch of line protocol: retry what may succeed later, drop only bad points.

The rules, by answer:

- 2xx: delivered.
- 400/422 with "partial write": the server stored the rest and names what it refused
  (InfluxDB 1.x: ``partial write: field type conflict ... dropped=1``); count, log, done.
- 400/422 otherwise: the server refused the whole batch because of some lines in it. Lines
  it names (``unable to parse 'LINE': ...``) are dropped and the rest sent again; when it
  names none, the batch is bisected until the bad lines are alone, so one bad point never
  holds back the others.
- 413: split in halves, each sent on its own (a single point that is still too large is
  dropped).
- connection errors, timeouts, 5xx, 429: retried with exponential backoff and full jitter,
  never less than the server's ``Retry-After``.
- 401/403 (credentials) and other 4xx such as 404 (database not found): the data stays,
  the problem is logged as an error, and the write is retried slowly until someone fixes it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Final

from posfleet.backoff import exponential_backoff
from posfleet.exporters.influxdb.metrics import (
    AUTH,
    BAD_POINT,
    CONFIG,
    CONNECTION,
    SERVER_ERROR,
    THROTTLED,
    TOO_LARGE,
    InfluxDbStats,
)
from posfleet.exporters.influxdb.transport import Transport, TransportError, WriteResponse

logger = logging.getLogger(__name__)

_DROPPED = re.compile(r"dropped=(\d+)")
_UNPARSABLE = re.compile(r"unable to parse '((?:[^'\\]|\\.|'(?!: ))*)': ")
RETRY_INITIAL_SECONDS: Final = 0.5
RETRY_AFTER_LIMIT_SECONDS: Final = 3600.0
"""A Retry-After longer than this is taken as a server mistake and capped."""
QUIET_SECONDS: Final = 60.0
"""While an outage lasts, the same warning is logged at most once per this interval."""
MESSAGE_LIMIT: Final = 300


def _count_lines(body: bytes) -> int:
    return body.count(b"\n") + 1


def _halves(body: bytes) -> tuple[bytes, bytes]:
    lines = body.split(b"\n")
    middle = len(lines) // 2
    return b"\n".join(lines[:middle]), b"\n".join(lines[middle:])


def server_message(body: str) -> str:
    """The error text of an answer: InfluxDB 1.x sends {"error": ...}, 2.x {"message": ...}."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return body
    if isinstance(decoded, dict):
        for key in ("error", "message"):
            if isinstance(decoded.get(key), str):
                return str(decoded[key])
    return body


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "..."


class Delivery:
    """Sends batches through a transport until each is accepted or its bad points dropped.

    ``deliver`` returns only then (or raises CancelledError), so the caller acks the buffer
    after it and nothing is lost in between.
    """

    def __init__(
        self,
        transport: Transport,
        stats: InfluxDbStats,
        *,
        retry_max_seconds: float = 30.0,
        auth_retry_seconds: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._stats = stats
        self._retry_max = retry_max_seconds
        self._auth_retry = auth_retry_seconds
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock
        self._monotonic = monotonic
        self._failing_since: float | None = None
        self._last_warning = -QUIET_SECONDS

    async def deliver(self, body: bytes) -> None:
        """Write ``body`` (lines joined by newlines); return once nothing is left to retry."""
        failures = 0
        while True:
            started = self._monotonic()
            try:
                response = await self._transport.write(body)
            except TransportError as exc:
                self._stats.write_duration.observe(self._monotonic() - started)
                failures += 1
                await self._retry(CONNECTION, str(exc), failures, None)
                continue
            self._stats.write_duration.observe(self._monotonic() - started)
            status = response.status
            if 200 <= status < 300:
                self._accepted(_count_lines(body))
                return
            if status in (400, 422):
                await self._refused(body, response)
                return
            if status == 413:
                await self._split(body)
                return
            failures += 1
            if status == 429:
                await self._retry(THROTTLED, response.body, failures, response.retry_after_seconds)
            elif status >= 500:
                await self._retry(
                    SERVER_ERROR, response.body, failures, response.retry_after_seconds
                )
            else:
                await self._blocked(status, response)

    # --- outcomes --------------------------------------------------------------------------

    def _accepted(self, points: int) -> None:
        self._stats.points_sent += points
        self._stats.batches_sent += 1
        self._stats.last_success_unix = self._clock()
        if self._failing_since is not None:
            logger.warning(
                "InfluxDB %s accepts writes again after %.0f s; sending what was buffered",
                self._transport.endpoint,
                self._monotonic() - self._failing_since,
            )
            self._failing_since = None

    def _dropped(self, reason: str, points: int, why: str) -> None:
        self._stats.points_dropped[reason] += points
        logger.warning(
            "InfluxDB %s refused %d point(s), dropped (%s): %s",
            self._transport.endpoint,
            points,
            reason,
            _short(why),
        )

    async def _refused(self, body: bytes, response: WriteResponse) -> None:
        points = _count_lines(body)
        message = server_message(response.body)
        if "partial write" in message:
            match = _DROPPED.search(message)
            named = len(_UNPARSABLE.findall(message))
            dropped = min(points, int(match.group(1)) if match else max(named, 1))
            self._dropped(BAD_POINT, dropped, message)
            self._accepted(points - dropped)
            return
        if points == 1:
            self._dropped(BAD_POINT, 1, message)
            return
        named_lines = {line.encode() for line in _UNPARSABLE.findall(message)}
        if named_lines:
            lines = body.split(b"\n")
            kept = [line for line in lines if line not in named_lines]
            if len(kept) < len(lines):
                self._dropped(BAD_POINT, len(lines) - len(kept), message)
                if kept:
                    await self.deliver(b"\n".join(kept))
                return
        # The server did not say which lines: bisect until the bad ones are alone.
        first, second = _halves(body)
        await self.deliver(first)
        await self.deliver(second)

    async def _split(self, body: bytes) -> None:
        points = _count_lines(body)
        if points == 1:
            self._dropped(TOO_LARGE, 1, f"a single point of {len(body)} bytes is too large")
            return
        logger.info(
            "InfluxDB %s: a batch of %d points (%d bytes) is too large; sending it in halves",
            self._transport.endpoint,
            points,
            len(body),
        )
        first, second = _halves(body)
        await self.deliver(first)
        await self.deliver(second)

    # --- waiting ---------------------------------------------------------------------------

    def _backoff(self, failures: int) -> float:
        ceiling = exponential_backoff(RETRY_INITIAL_SECONDS, failures - 1, self._retry_max)
        # Full jitter: many collectors coming back after the same outage spread out.
        return self._rng.uniform(ceiling / 2, ceiling)

    async def _retry(
        self, reason: str, detail: str, failures: int, retry_after: float | None
    ) -> None:
        delay = self._backoff(failures)
        if retry_after is not None:
            delay = max(delay, min(retry_after, RETRY_AFTER_LIMIT_SECONDS))
        self._stats.retries[reason] += 1
        self._warn(
            logging.WARNING,
            "InfluxDB %s write failed (%s: %s); data stays buffered, retry %d in %.1f s",
            self._transport.endpoint,
            reason,
            _short(detail),
            failures,
            delay,
        )
        await self._sleep(delay)

    async def _blocked(self, status: int, response: WriteResponse) -> None:
        if status in (401, 403):
            reason, hint = AUTH, "check the user/password (v1) or token (v2)"
        elif status == 404:
            reason, hint = CONFIG, "check that the database (v1) or bucket and org (v2) exist"
        else:
            reason, hint = CONFIG, "check the InfluxDB settings"
        self._stats.retries[reason] += 1
        self._warn(
            logging.ERROR,
            "InfluxDB %s refuses writes: HTTP %d %s; %s. Data stays buffered; retrying every "
            "%.0f s",
            self._transport.endpoint,
            status,
            _short(response.body),
            hint,
            self._auth_retry,
        )
        await self._sleep(self._auth_retry)

    def _warn(self, level: int, message: str, *args: object) -> None:
        now = self._monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._last_warning < QUIET_SECONDS:
            logger.debug(message, *args)
            return
        self._last_warning = now
        logger.log(level, message, *args)
