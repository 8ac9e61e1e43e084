"""Run the simulation live: advance the fleet with a scaled clock and serve it over HTTP,
MQTT and pseudo-terminals, writing the trace and ground truth as it goes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from posfleet.simulator.clock import Clock, ScaledClock
from posfleet.simulator.config_writer import TOKEN_ENV, fleet_config_yaml
from posfleet.simulator.engine import Fleet, mqtt_only
from posfleet.simulator.escpos_bridge import DeviceFactory, EscposBridge, start_escpos_device
from posfleet.simulator.fleet import generate_fleet
from posfleet.simulator.http_server import HttpFault, RunningServer, StatusServer
from posfleet.simulator.jsonl import JsonLinesFile
from posfleet.simulator.mqtt_publisher import MqttPublisher, messages_for
from posfleet.simulator.record import trace_lines
from posfleet.simulator.scenario import Scenario

log = logging.getLogger(__name__)
SLICE_SIM_SECONDS = 30.0
"""Advance at most this much simulated time between yields to the event loop."""
PACE_SECONDS = 0.2


@dataclass
class RunOptions:
    """What ``posfleet simulate`` was asked to do."""

    scenario: Scenario
    http_listen: tuple[str, int] | None = None
    token: str | None = None
    token_env: str = TOKEN_ENV
    mqtt_url: str | None = None
    write_config: Path | None = None
    ground_truth: Path | None = None
    record: Path | None = None
    duration: float | None = None
    """Stop after this many real seconds."""
    http_faults: dict[str, HttpFault] = field(default_factory=dict)


class Simulation:
    """The live run; :meth:`run` returns when ``stop`` is set or the duration is over."""

    def __init__(
        self,
        options: RunOptions,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        escpos_factory: DeviceFactory = start_escpos_device,
    ) -> None:
        scenario = options.scenario
        self.options = options
        self.spec = generate_fleet(scenario.parameters())
        start = scenario.start.timestamp()
        self.clock = clock or ScaledClock(start, scenario.speed)
        self.fleet = Fleet(
            self.spec,
            start,
            scripted=scenario.scripted_faults(),
            status_interval=scenario.status_interval_seconds,
            reports_status=(lambda _spec: True) if options.record else mqtt_only,
            spontaneous_faults=scenario.spontaneous_faults,
        )
        self._sleep = sleep
        self.http_base: str | None = None
        self.status_server: StatusServer | None = None
        """The HTTP endpoint while running; tests flip its fault knobs."""
        self.escpos_bridge = EscposBridge(self.fleet, escpos_factory)
        """The simulated printers while running, by terminal id."""
        self.ready = asyncio.Event()
        """Set once every protocol is served (and the config written, if asked)."""

    async def run(self, stop: asyncio.Event) -> None:
        options = self.options
        bridge = self.escpos_bridge
        server: RunningServer | None = None
        publisher = MqttPublisher(options.mqtt_url) if options.mqtt_url else None
        publishing: asyncio.Task[None] | None = None
        record = JsonLinesFile(options.record) if options.record else None
        truth = JsonLinesFile(options.ground_truth) if options.ground_truth else None
        try:
            if any(t.driver == "escpos" for t in self.spec.terminals):
                ports = await asyncio.to_thread(bridge.start)
                log.info("%d simulated printers on pseudo-terminals", len(ports))
            if options.http_listen is not None:
                if not options.token:
                    raise ValueError("the HTTP server needs a bearer token")
                host, port = options.http_listen
                status = StatusServer(self.fleet, options.token, faults=options.http_faults)
                self.status_server = status
                server = RunningServer(status, host, port)
                self.http_base = await server.start()
                log.info("serving http terminals at %s/terminals/<id>/status", self.http_base)
            if publisher is not None:
                publishing = asyncio.create_task(publisher.run())
            if options.write_config is not None:
                text = fleet_config_yaml(
                    self.spec, http_base=self.http_base, mqtt_url=options.mqtt_url,
                    escpos_ports=bridge.ports, token_env=options.token_env,
                )
                await asyncio.to_thread(options.write_config.write_text, text, "utf-8")
            self.ready.set()
            await self._loop(stop, publisher, record, truth)
        finally:
            if truth is not None:
                await truth.write(self.fleet.faults.still_open())
                truth.close()
            if record is not None:
                record.close()
            if publisher is not None and publishing is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(publisher.flush(), 5.0)
                publishing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await publishing
            if server is not None:
                await server.close()
            await asyncio.to_thread(bridge.close)

    async def _loop(
        self,
        stop: asyncio.Event,
        publisher: MqttPublisher | None,
        record: JsonLinesFile | None,
        truth: JsonLinesFile | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.duration if self.options.duration else None
        while not stop.is_set():
            target = self.clock.now()
            while self.fleet.now < target:
                self.fleet.advance_to(min(target, self.fleet.now + SLICE_SIM_SECONDS))
                emitted = self.fleet.drain()
                if publisher is not None:
                    publisher.submit(messages_for(emitted))
                if record is not None:
                    await record.write(trace_lines(emitted))
                if truth is not None:
                    await truth.write(emitted.ground_truth)
                await asyncio.sleep(0)
            if deadline is not None and loop.time() >= deadline:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PACE_SECONDS)
