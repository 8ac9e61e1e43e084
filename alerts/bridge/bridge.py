"""The assembled bridge: store, targets, outbox worker, HTTP app and the background loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from posfleet.alerts.bridge.api import BridgeContext, create_app
from posfleet.alerts.bridge.auth import Authenticator
from posfleet.alerts.bridge.inventory import Inventory
from posfleet.alerts.bridge.metrics import BridgeMetrics
from posfleet.alerts.bridge.outbox import OutboxWorker, utc_now
from posfleet.alerts.bridge.store import Policy, StoreUnavailable, TicketStore
from posfleet.alerts.bridge.targets.base import CallRecorder, TicketTarget
from posfleet.alerts.bridge.targets.jira import JiraTarget
from posfleet.alerts.bridge.targets.redmine import RedmineTarget
from posfleet.alerts.bridge.targets.webhook import WebhookTarget
from posfleet.config.models import TicketsSettings

log = logging.getLogger(__name__)


def targets_from(settings: TicketsSettings, record: CallRecorder) -> dict[str, TicketTarget]:
    """The ticketing systems configured in ``settings``."""
    targets: dict[str, TicketTarget] = {}
    if settings.webhook is not None:
        targets["webhook"] = WebhookTarget(settings.webhook, record=record)
    if settings.redmine is not None:
        targets["redmine"] = RedmineTarget(settings.redmine, record=record)
    if settings.jira is not None:
        targets["jira"] = JiraTarget(settings.jira, record=record)
    return targets


def team_routes(settings: TicketsSettings) -> Callable[[str | None], Sequence[str]]:
    """Which systems get a team's tickets (a system with no ``teams`` gets every team's)."""
    routes = {
        name: list(target.teams)
        for name, target in (
            ("webhook", settings.webhook),
            ("redmine", settings.redmine),
            ("jira", settings.jira),
        )
        if target is not None
    }

    def systems_for(team: str | None) -> Sequence[str]:
        return [name for name, teams in routes.items() if not teams or team in teams]

    return systems_for


class TicketBridge:
    """Everything ``posfleet tickets serve`` runs; tests build one with fakes.

    ``app`` is the FastAPI app; its lifespan creates the schema and, when
    ``background`` is set, runs the loop that closes resolved tickets after their grace
    period and pushes the outbox. Tests leave it off and call :meth:`tick`.
    """

    def __init__(
        self,
        settings: TicketsSettings,
        inventory: Inventory | None = None,
        *,
        store: TicketStore | None = None,
        targets: Mapping[str, TicketTarget] | None = None,
        clock: Callable[[], datetime] = utc_now,
        jitter: Callable[[], float] = random.random,
        registry: CollectorRegistry | None = None,
        background: bool = True,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = BridgeMetrics(registry)
        policy = Policy(
            close_grace=timedelta(seconds=settings.close_grace_seconds),
            reopen_window=timedelta(seconds=settings.reopen_window_seconds),
        )
        self.store = store or TicketStore.open(
            settings.database,
            busy_timeout_seconds=settings.busy_timeout_seconds,
            policy=policy,
            systems_for=team_routes(settings),
        )
        self.targets = (
            dict(targets) if targets is not None
            else targets_from(settings, self.metrics.record_call)
        )
        self.metrics.watch(self.store, systems=self.targets)
        self.worker = OutboxWorker(
            self.store,
            self.targets,
            self.metrics,
            clock=clock,
            jitter=jitter,
            retry_min_seconds=settings.retry_min_seconds,
            retry_max_seconds=settings.retry_max_seconds,
            max_attempts=settings.max_attempts,
        )
        self._background = background
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        tokens = [token.get_secret_value() for token in settings.bearer_tokens]
        users = {user: pw.get_secret_value() for user, pw in settings.basic_auth.items()}
        self.app: FastAPI = create_app(
            BridgeContext(
                settings=settings,
                store=self.store,
                inventory=inventory or Inventory(),
                metrics=self.metrics,
                authenticator=Authenticator(tokens, users),
                clock=clock,
                wake=self.wake,
            ),
            lifespan=self._lifespan,
        )

    def wake(self) -> None:
        """Start the next outbox pass now (callable from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def start(self) -> None:
        """Create the schema (tables and version) if needed."""
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.store.create_schema, self.clock())

    async def tick(self) -> None:
        """Close tickets whose grace period is over, then push due outbox items."""
        closed = await asyncio.to_thread(self.store.close_due, self.clock())
        if closed:
            self.metrics.closed.labels("resolved").inc(len(closed))
        await self.worker.run_once()

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every ``outbox_poll_seconds`` (sooner when woken) until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.tick()
            except StoreUnavailable as exc:
                self.metrics.store_errors.labels("background").inc()
                log.warning("ticket store unavailable: %s", exc)
            except Exception:  # the loop must survive anything one tick does
                log.exception("ticket bridge background pass failed")
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.outbox_poll_seconds):
                    await self._wakeup.wait()

    async def aclose(self) -> None:
        await self.worker.aclose()
        await asyncio.to_thread(self.store.dispose)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        await self.start()
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop)) if self._background else None
        try:
            yield
        finally:
            stop.set()
            self._wakeup.set()
            if task is not None:
                await task
            await self.aclose()
