"""The running ingest: consumer, pipeline, outputs, ``/metrics``, and a clean shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import socket
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Final

from prometheus_client.registry import CollectorRegistry

from posfleet.collector.clock import Clock, SystemClock
from posfleet.collector.metrics_server import ListenAddressError, MetricsServer
from posfleet.collector.sink import Sink
from posfleet.config.models import PosfleetConfig, UplinkSettings
from posfleet.exporters.derived.metrics import DerivedMetrics
from posfleet.exporters.ingest.checks import MessageChecker
from posfleet.exporters.ingest.connection import BrokerConnection
from posfleet.exporters.ingest.consumer import (
    ConnectionFactory,
    IngestConsumer,
    shared_subscriptions,
)
from posfleet.exporters.ingest.latest import LatestSnapshots
from posfleet.exporters.ingest.metrics import IngestMetrics, IngestStats
from posfleet.exporters.ingest.pipeline import IngestPipeline
from posfleet.exporters.mqtt_uplink.connection import (
    BrokerOptions,
    BrokerUrlError,
    parse_broker_url,
)
from posfleet.exporters.prometheus.render import TerminalExposition
from posfleet.supervise import run_until_stopped

logger = logging.getLogger(__name__)

GC_THRESHOLDS: Final = (50_000, 20, 1_000)
"""Garbage-collector thresholds while ingest runs. The latest snapshot of 20,000 terminals
is ~260,000 objects the collector tracks; with Python's defaults (700, 10, 10) a full
collection (~100-200 ms) ran every few thousand messages, ~35 us per message, more than the
validation. Ingest creates next to no reference cycles: reference counting frees its
garbage, and the rare cycles wait for a young collection."""

WARM_METRICS_SECONDS: Final = 15.0
"""How often changed terminals are rendered for /metrics ahead of scrapes: Prometheus's
usual scrape interval. Rendering costs ~65 us per changed terminal; doing it more often than
Prometheus reads it would take CPU from ingest for nothing."""


class IngestStartupError(Exception):
    """Ingest cannot start; ``problems`` says why, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def topic_prefixes(config: PosfleetConfig) -> list[str]:
    """The uplink prefix, and the terminals' push prefix if ingest takes pushes too."""
    prefixes = [(config.uplink or UplinkSettings()).topic_prefix]
    if config.ingest.subscribe_terminal_pushes and config.mqtt.topic_prefix not in prefixes:
        prefixes.append(config.mqtt.topic_prefix)
    return prefixes


def ingest_broker_options(config: PosfleetConfig, client_id: str | None = None) -> BrokerOptions:
    """Connection settings from ``ingest:`` (URL falling back to ``uplink.url``, ``mqtt.url``)."""
    settings = config.ingest
    url = settings.url or (config.uplink.url if config.uplink else config.mqtt.url)
    return BrokerOptions(
        url=url,
        client_id=client_id
        or settings.client_id
        or f"{settings.share_group}-{socket.gethostname()}",
        session_expiry_seconds=settings.session_expiry_seconds,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        ca_file=settings.ca_file,
        client_cert_file=settings.client_cert_file,
        client_key_file=settings.client_key_file,
        receive_maximum=settings.max_in_flight,
    )


def broker_connections(options: BrokerOptions) -> ConnectionFactory:
    """Connections to the broker ``options`` name (one per attempt)."""
    return lambda topics, on_arrival: BrokerConnection(options, topics, on_arrival)


class IngestApp:
    """Everything ``posfleet ingest`` runs, with its outside dependencies as arguments.

    ``sinks`` are the outputs (InfluxDB, ...): a message is acknowledged to the broker only
    after every one of them returned from ``publish`` without raising. ``/metrics`` serves
    ingest's self-metrics, the derived metrics (transactions by cause, paper time to empty,
    ...) and the series of every terminal in :attr:`latest`, like the edge collector.
    """

    def __init__(
        self,
        config: PosfleetConfig,
        sinks: Sequence[Sink] = (),
        *,
        listen: str | None = None,
        client_id: str | None = None,
        connection_factory: ConnectionFactory | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        registry: CollectorRegistry | None = None,
        gc_thresholds: tuple[int, int, int] | None = GC_THRESHOLDS,
    ) -> None:
        settings = config.ingest
        self.config = config
        self.clock = clock or SystemClock()
        self.registry = registry or CollectorRegistry()
        self.listen = listen or settings.listen
        options = ingest_broker_options(config, client_id)
        self.stats = IngestStats()
        self.latest = LatestSnapshots(settings.stale_after_seconds, self.clock)
        """Latest snapshot per terminal, served as terminal series on /metrics."""
        # Terminal metrics skip the registry: a cached renderer serves them (see
        # collector/metrics_server.py), re-rendering only terminals with a new snapshot.
        self.terminal_metrics = TerminalExposition(self.latest.terminals)
        problems = []
        try:
            parse_broker_url(options.url)
        except BrokerUrlError as exc:
            problems.append(f"ingest.url: {exc}")
        try:
            self._metrics_server = MetricsServer(
                self.registry, self.listen, self.terminal_metrics.exposition
            )
        except ListenAddressError as exc:
            problems.append(f"ingest.listen: {exc}")
        if problems:
            raise IngestStartupError(problems)
        self.client_id = options.client_id
        self.registry.register(IngestMetrics(self.stats, self.latest.health_counts))
        # Derived metrics for the alert rules, fed as one more output (constant work per
        # message), served from the registry.
        self.derived = DerivedMetrics(config, clock=self.clock)
        self.registry.register(self.derived)
        prefixes = topic_prefixes(config)
        self.pipeline = IngestPipeline(
            MessageChecker(prefixes, settings.max_payload_bytes),
            (*sinks, self.derived.sink),
            self.latest,
            self.stats,
            clock=self.clock,
            log_interval_seconds=config.collector.interval_seconds,
        )
        self.consumer = IngestConsumer(
            self.pipeline,
            connection_factory or broker_connections(options),
            shared_subscriptions(settings.share_group, prefixes),
            self.stats,
            clock=self.clock,
            rng=rng,
        )
        self.metrics_address: str | None = None
        self._gc_thresholds = gc_thresholds

    async def run(self, stop: asyncio.Event) -> None:
        """Ingest until ``stop`` is set; raises :class:`IngestStartupError` if it cannot."""
        async with AsyncExitStack() as cleanup:
            if self._gc_thresholds is not None:
                cleanup.callback(gc.set_threshold, *gc.get_threshold())
                gc.set_threshold(*self._gc_thresholds)
            cleanup.push_async_callback(self.pipeline.close)
            try:
                self.metrics_address = await self._metrics_server.start()
            except OSError as exc:
                raise IngestStartupError(
                    [f"cannot serve /metrics on {self.listen}: {exc}"]
                ) from None
            cleanup.push_async_callback(self._metrics_server.stop)
            logger.info(
                "ingest %s: /metrics on %s; topics %s",
                self.client_id,
                self.metrics_address,
                ", ".join(self.consumer.topics),
            )
            await self._supervise(stop)

    async def _supervise(self, stop: asyncio.Event) -> None:
        tasks = [
            asyncio.create_task(self.consumer.run(), name="ingest consumer"),
            asyncio.create_task(
                self.terminal_metrics.keep_warm(WARM_METRICS_SECONDS), name="metrics warm-up"
            ),
        ]
        await run_until_stopped(stop, tasks)
        logger.info("ingest stopped")
