"""The running collector: drivers built from the config, the poller, the MQTT hub, the
``/metrics`` server, and a clean shutdown that closes every session and port.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import random
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import aiomqtt
from prometheus_client.registry import CollectorRegistry
from pydantic import ValidationError

from posfleet import __version__
from posfleet.collector.clock import Clock, SystemClock
from posfleet.collector.driver import Driver, DriverContext, DriverPlugin, installed_drivers
from posfleet.collector.drivers.http.driver import ENVIRON_RESOURCE, SESSION_RESOURCE
from posfleet.collector.drivers.mqtt.driver import CLOCK_RESOURCE, HUB_RESOURCE
from posfleet.collector.metrics import CollectorMetrics, CollectorStats
from posfleet.collector.metrics_server import ListenAddressError, MetricsServer
from posfleet.collector.mqtt_hub import MqttHub, TerminalAddress, client_factory
from posfleet.collector.poller import Poller, PollJob
from posfleet.collector.ratelimit import LogRateLimiter
from posfleet.collector.recorder import Recorder
from posfleet.collector.sink import FanOut, Sink
from posfleet.collector.state import FleetState, TerminalIdentity
from posfleet.config.models import PosfleetConfig, Source, Store, Terminal
from posfleet.exporters.derived.metrics import DerivedMetrics
from posfleet.exporters.prometheus.render import TerminalExposition
from posfleet.exporters.remote_write.writer import RemoteWriter, running_remote_writer
from posfleet.supervise import run_until_stopped
from posfleet.validation import field_errors

logger = logging.getLogger(__name__)


WARM_METRICS_SECONDS = 5.0
"""How often changed terminals are rendered for /metrics ahead of scrapes."""


class StartupError(Exception):
    """The collector cannot start; ``problems`` says why, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def _labelled_sources(terminal: Terminal) -> list[tuple[str, str]]:
    """(label, driver) per source for logs and health reasons: the driver name, numbered
    when a terminal has two sources with the same driver."""
    drivers = [terminal.driver, *(source.driver for source in terminal.extra_sources)]
    labelled = []
    for index, driver in enumerate(drivers):
        label = driver
        if drivers.count(driver) > 1:
            label = f"{driver}#{drivers[: index + 1].count(driver)}"
        labelled.append((label, driver))
    return labelled


async def _close_driver(driver: Driver) -> None:
    closer = getattr(driver, "aclose", None) or getattr(driver, "close", None)
    if callable(closer):
        try:
            result = closer()
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("closing %s failed", type(driver).__name__)


class CollectorApp:
    """Everything ``posfleet collect`` runs, with its outside dependencies as arguments."""

    def __init__(
        self,
        config: PosfleetConfig,
        sinks: Sequence[Sink] = (),
        *,
        listen: str | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        registry: CollectorRegistry | None = None,
        environ: Mapping[str, str] | None = None,
        plugins: Mapping[str, DriverPlugin] | None = None,
        mqtt_connect: Callable[[], aiomqtt.Client] | None = None,
    ) -> None:
        settings = config.collector
        self.config = config
        self.sink = FanOut(sinks)
        self.listen = listen or settings.listen
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.registry = registry or CollectorRegistry()
        self.environ = os.environ if environ is None else environ
        self.plugins = installed_drivers() if plugins is None else plugins
        self.stats = CollectorStats()
        self.state = FleetState(settings.id, settings.offline_after_failures)
        self.registry.register(CollectorMetrics(self.stats, self.state.health_counts))
        # Derived metrics for the alert rules (paper time to empty, store hours, policy,
        # transactions by cause): fed as one more sink, served from the registry.
        self.derived = DerivedMetrics(config, clock=self.clock)
        self.registry.register(self.derived)
        self.sink = FanOut((*sinks, self.derived.sink))
        # Terminal metrics skip the registry: a cached renderer serves them (see metrics_server).
        self.terminal_metrics = TerminalExposition(self.state.terminals)
        self.remote_writer: RemoteWriter | None = None
        """Remote-write, once :meth:`run` has started it (when ``remote_write`` is set)."""
        self.metrics_address: str | None = None
        """Where /metrics listens, once :meth:`run` has started it."""
        self.hub: MqttHub | None = None
        self.poller: Poller | None = None
        self._mqtt_connect = mqtt_connect
        self._drivers: list[Driver] = []
        try:
            self._metrics_server = MetricsServer(
                self.registry, self.listen, self.terminal_metrics.exposition
            )
        except ListenAddressError as exc:
            raise StartupError([str(exc)]) from None

    def _uses_mqtt(self) -> bool:
        return any(
            source.driver == "mqtt"
            for _, terminal in self.config.terminals()
            for source in (terminal, *terminal.extra_sources)
        )

    def _make_hub(self) -> MqttHub:
        config = self.config
        inventory = {
            terminal.id: TerminalAddress(store.merchant, store.id)
            for store, terminal in config.terminals()
        }
        client_id = f"{config.mqtt.client_id or config.collector.id}-sub"
        return MqttHub(
            config.mqtt,
            inventory,
            connect=self._mqtt_connect or client_factory(config.mqtt, client_id),
            sink=self.sink,
            stats=self.stats,
            clock=self.clock,
            rng=self.rng,
            max_payload_bytes=config.collector.max_payload_bytes,
            log_interval_seconds=config.collector.interval_seconds,
        )

    def _build_driver(
        self, store: Store, terminal: Terminal, source: Source, resources: Mapping[str, Any]
    ) -> Driver:
        plugin = self.plugins.get(source.driver)
        if plugin is None:
            raise ValueError(f"driver '{source.driver}' is not installed")
        if plugin.create is None:
            raise ValueError(f"driver '{source.driver}' cannot poll (its plug-in has no create)")
        settings = plugin.settings_model.model_validate(source.connection)
        context = DriverContext(
            terminal_id=terminal.id,
            merchant_id=store.merchant,
            store_id=store.id,
            max_payload_bytes=self.config.collector.max_payload_bytes,
            resources=resources,
        )
        return plugin.create(settings, context)

    def _build(self, poller: Poller, resources: Mapping[str, Any]) -> None:
        problems: list[str] = []
        collector = self.config.collector
        for store, terminal in self.config.terminals():
            self.state.add_terminal(
                TerminalIdentity(
                    terminal.id,
                    store.merchant,
                    store.id,
                    store.region,
                    terminal.serial,
                    terminal.model,
                    terminal.vendor,
                ),
                _labelled_sources(terminal),
            )
            for index, source in enumerate((terminal, *terminal.extra_sources)):
                where = f"terminal {terminal.id}, source {index} ({source.driver})"
                try:
                    driver = self._build_driver(store, terminal, source, resources)
                except ValidationError as exc:
                    problems += [f"{where}: {error}" for error in field_errors(exc)]
                    continue
                except (ValueError, TypeError, OSError) as exc:
                    problems.append(f"{where}: {exc}")
                    continue
                self._drivers.append(driver)
                interval = (
                    source.interval_seconds
                    or terminal.interval_seconds
                    or collector.interval_seconds
                )
                poller.add(PollJob(terminal.id, index, source.driver, driver, interval))
        if problems:
            raise StartupError(problems)

    async def run(self, stop: asyncio.Event) -> None:
        """Collect until ``stop`` is set; raises :class:`StartupError` if it cannot start."""
        collector = self.config.collector
        poller = Poller(
            collector,
            Recorder(
                self.state,
                self.sink,
                self.clock,
                LogRateLimiter(collector.interval_seconds, self.clock),
            ),
            self.stats,
            clock=self.clock,
            rng=self.rng,
        )
        self.poller = poller
        async with AsyncExitStack() as cleanup:
            cleanup.push_async_callback(self.sink.close)
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=collector.max_concurrent_polls, ttl_dns_cache=300
                ),
                headers={"User-Agent": f"posfleet-collector/{__version__}"},
            )
            cleanup.push_async_callback(session.close)
            self.hub = self._make_hub() if self._uses_mqtt() else None
            resources = {
                SESSION_RESOURCE: session,
                HUB_RESOURCE: self.hub,
                ENVIRON_RESOURCE: self.environ,
                CLOCK_RESOURCE: self.clock,
            }
            cleanup.push_async_callback(self._close_drivers)
            self._build(poller, resources)
            try:
                self.metrics_address = await self._metrics_server.start()
            except OSError as exc:
                raise StartupError([f"cannot serve /metrics on {self.listen}: {exc}"]) from None
            cleanup.push_async_callback(self._metrics_server.stop)
            if self.config.remote_write is not None:
                try:
                    self.remote_writer = await cleanup.enter_async_context(
                        running_remote_writer(
                            self.config, self.state.terminals, self.registry, clock=self.clock
                        )
                    )
                except OSError as exc:
                    problem = f"remote_write: cannot set up its buffer: {exc}"
                    raise StartupError([problem]) from None
            logger.info(
                "collecting from %d terminals (%d sources); /metrics on %s",
                len(self.state),
                len(poller.jobs),
                self.metrics_address,
            )
            await self._supervise(stop, poller)

    async def _supervise(self, stop: asyncio.Event, poller: Poller) -> None:
        tasks = [
            asyncio.create_task(poller.run(), name="poller"),
            asyncio.create_task(
                self.terminal_metrics.keep_warm(WARM_METRICS_SECONDS), name="metrics-warm"
            ),
        ]
        if self.hub is not None:
            tasks.append(asyncio.create_task(self.hub.run(), name="mqtt-hub"))
        await run_until_stopped(stop, tasks)
        logger.info("collector stopped")

    async def _close_drivers(self) -> None:
        await asyncio.gather(*(_close_driver(driver) for driver in self._drivers))
