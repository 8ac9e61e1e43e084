"""The outputs a configuration asks for, built the same way for ``collect`` and ``ingest``.

Each output is a collector Sink with ``start()`` (deliver what an earlier run left in its
disk buffer) and ``metrics()`` (its self-metrics for /metrics).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal, Protocol

from prometheus_client.registry import Collector, CollectorRegistry

from posfleet.collector.sink import Sink
from posfleet.config import PosfleetConfig
from posfleet.exporters.influxdb import InfluxDbSink
from posfleet.exporters.mqtt_uplink.sink import build_uplink_sink
from posfleet.exporters.status_store.sink import StatusStoreSink
from posfleet.payments.cases import CaseEngine
from posfleet.payments.output import case_engine_from_config
from posfleet.telemetry import StatusSnapshot, TransactionEvent


class Output(Sink, Protocol):
    async def start(self) -> None: ...

    def metrics(self) -> Collector: ...


@dataclass
class Outputs:
    """The configured outputs, not started yet."""

    sinks: list[Output] = field(default_factory=list)

    def register_metrics(self, registry: CollectorRegistry) -> None:
        for sink in self.sinks:
            registry.register(sink.metrics())

    async def start(self) -> None:
        for sink in self.sinks:
            await sink.start()


class CaseEngineOutput:
    """The charged-but-failed case engine as an output, sweeping in the background."""

    def __init__(self, engine: CaseEngine) -> None:
        self._engine = engine
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._engine.run(self._stop), name="payment-cases")

    def metrics(self) -> Collector:
        return self._engine.metrics

    async def publish(self, snapshot: StatusSnapshot) -> None:
        return None

    async def publish_transaction(self, event: TransactionEvent) -> None:
        await self._engine.publish_transaction(event)

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self._engine.close()


def build_outputs(config: PosfleetConfig, *, role: Literal["collector", "ingest"]) -> Outputs:
    """InfluxDB when ``influxdb:`` is set; the MQTT uplink when ``uplink:`` is set and this
    is the edge collector; charged-but-failed detection where ``payments.detect_cases_in``
    names this role; the status store where ``status_store.write_in`` names it.

    Opens the disk buffers and databases: blocking I/O, done once at start-up.
    """
    outputs = Outputs()
    if config.influxdb is not None:
        outputs.sinks.append(InfluxDbSink.from_config(config))
    if role == "collector":
        uplink_sink = build_uplink_sink(config)
        if uplink_sink is not None:
            outputs.sinks.append(uplink_sink)
    if config.payments.detect_cases_in == role:
        outputs.sinks.append(CaseEngineOutput(case_engine_from_config(config)))
    if config.status_store is not None and config.status_store.write_in == role:
        outputs.sinks.append(StatusStoreSink.from_config(config))
    return outputs
