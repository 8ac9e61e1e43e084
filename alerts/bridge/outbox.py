"""The outbox worker: pushes stored ticket changes to the ticketing systems.

Webhooks only write to the database; this worker reads the outbox, so Alertmanager gets its
answer fast and changes survive restarts. Per ticket and system the changes go out in
order (a comment never overtakes the create of its issue). Creates are idempotent: the
system is searched for the ticket's tag first, and the generic webhook gets the same
``Idempotency-Key`` on every retry. Failed calls are retried with exponential backoff and
jitter; permanent errors (the request is wrong) and items past ``max_attempts`` are given
up and counted.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from posfleet.alerts.bridge.metrics import BridgeMetrics
from posfleet.alerts.bridge.model import RemoteLink, Ticket
from posfleet.alerts.bridge.store import OutboxItem, StoreUnavailable, TicketStore
from posfleet.alerts.bridge.targets.base import TargetError, TicketTarget
from posfleet.backoff import exponential_backoff

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxWorker:
    """Processes due outbox items; ``run_once`` is one pass (tests call it directly)."""

    def __init__(
        self,
        store: TicketStore,
        targets: Mapping[str, TicketTarget],
        metrics: BridgeMetrics,
        *,
        clock: Clock = utc_now,
        jitter: Callable[[], float] = random.random,
        retry_min_seconds: float = 1.0,
        retry_max_seconds: float = 300.0,
        max_attempts: int = 50,
        concurrency: int = 8,
    ) -> None:
        self._store = store
        self._targets = targets
        self._metrics = metrics
        self._clock = clock
        self._jitter = jitter
        self._retry_min = retry_min_seconds
        self._retry_max = retry_max_seconds
        self._max_attempts = max_attempts
        self._slots = asyncio.Semaphore(concurrency)

    async def run_once(self) -> int:
        """Push every item due now; return how many were tried."""
        items = await asyncio.to_thread(self._store.due_outbox, self._clock())
        if items:
            await asyncio.gather(*(self._guarded(item) for item in items))
        return len(items)

    async def _guarded(self, item: OutboxItem) -> None:
        async with self._slots:
            try:
                await self._process(item)
            except StoreUnavailable as exc:
                self._metrics.store_errors.labels("outbox").inc()
                log.warning("outbox item %s: ticket store unavailable: %s", item.id, exc)

    async def _process(self, item: OutboxItem) -> None:
        target = self._targets.get(item.system)
        if target is None:
            await self._give_up(item, f"system {item.system!r} is no longer configured")
            return
        ticket = await asyncio.to_thread(self._store.get, item.ticket_id)
        try:
            await self._push(target, item, ticket)
        except TargetError as exc:
            if exc.permanent or item.attempts + 1 >= self._max_attempts:
                await self._give_up(item, str(exc))
            else:
                delay = self._backoff(item.attempts)
                log.info(
                    "outbox item %s (%s %s): %s; retry in %.1f s",
                    item.id,
                    item.system,
                    item.action,
                    exc,
                    delay,
                )
                next_at = self._clock() + timedelta(seconds=delay)
                await asyncio.to_thread(self._store.outbox_retry, item, str(exc), next_at)
            return
        await asyncio.to_thread(self._store.outbox_done, item.id, self._clock())

    async def _push(self, target: TicketTarget, item: OutboxItem, ticket: Ticket) -> None:
        link = next((link for link in ticket.remote if link.system == item.system), None)
        if link is None:
            link = await self._find_or_create(target, item, ticket)
            if item.action == "create":
                return
        elif item.action == "create":
            return  # created earlier; this item is a repeat
        key = f"{ticket.tag}:{item.id}"
        if item.action == "comment":
            await target.comment(link, ticket, item.text, key)
        elif item.action == "close":
            await target.close(link, ticket, item.text, key)
        elif item.action == "reopen":
            await target.reopen(link, ticket, item.text, key)

    async def _find_or_create(
        self, target: TicketTarget, item: OutboxItem, ticket: Ticket
    ) -> RemoteLink:
        # Search first: a create whose answer was lost (timeout, crash) already made the issue.
        link = await target.find(ticket)
        if link is None:
            if item.action != "create":
                raise TargetError(f"{item.system}: the ticket's issue has not been created yet")
            link = await target.create(ticket, f"{ticket.tag}:create")
        await asyncio.to_thread(self._store.save_link, ticket.id, link)
        return link

    def _backoff(self, attempts: int) -> float:
        base = exponential_backoff(self._retry_min, attempts, self._retry_max)
        return float(min(self._retry_max, base * (0.5 + self._jitter())))

    async def _give_up(self, item: OutboxItem, error: str) -> None:
        log.error("outbox item %s (%s %s) given up: %s", item.id, item.system, item.action, error)
        self._metrics.given_up.labels(item.system).inc()
        await asyncio.to_thread(self._store.outbox_dead, item, error, self._clock())

    async def aclose(self) -> None:
        for target in self._targets.values():
            await target.aclose()
