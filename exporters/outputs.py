"""The outputs a configuration asks for, built the same way for ``collect`` and ``ingest``.

Each output is a collector Sink with ``start()`` (deliver what an earlier run left in its
disk buffer) and ``metrics()`` (its self-metrics for /metrics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.registry import Collector, CollectorRegistry

from posfleet.collector.sink import Sink
from posfleet.config import PosfleetConfig
from posfleet.exporters.influxdb import InfluxDbSink
from posfleet.exporters.mqtt_uplink.sink import build_uplink_sink


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


def build_outputs(config: PosfleetConfig, *, uplink: bool) -> Outputs:
    """InfluxDB when ``influxdb:`` is set; the MQTT uplink when ``uplink:`` is set and
    ``uplink`` is true (the edge collector uplinks, central ingest does not).

    Opens the disk buffers: blocking file I/O, done once at start-up.
    """
    outputs = Outputs()
    if config.influxdb is not None:
        outputs.sinks.append(InfluxDbSink.from_config(config))
    if uplink:
        uplink_sink = build_uplink_sink(config)
        if uplink_sink is not None:
            outputs.sinks.append(uplink_sink)
    return outputs
