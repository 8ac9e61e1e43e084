"""Every query of every dashboard (panel targets, template variables, annotations) returns
data from real servers filled by a simulated fleet: none is exempt.

The stack runs as deployed, for the whole module: the simulator serves a fleet of 12
terminals (half polled over HTTP, half pushing over MQTT) at 60 times real speed (lunch
time), with faults scripted so that every series a panel shows appears within about 15 real
seconds: a degraded network on the two busiest pushing tills of a store (sales time out,
reversals are confirmed, one fails three times running and leaves a charged-but-failed case,
some stay pending for minutes), the busiest till's paper reaching the near-end sensor after
the collector has seen it print (time to empty), paper out for three minutes on another till
(a ticket opened and closed again), a link going down, a gateway outage, and a polled (HTTP)
terminal rebooting for ten minutes (it answers 503: failed polls). The simulation is
deterministic for a seed; tests/dashboards/test_scenario.py checks on the model alone that
the scenario still produces these events. The edge collector polls it and
writes to a real InfluxDB 1.6 (database ``posfleet``), to a real Mosquitto through the MQTT
uplink, and by remote-write to a real VictoriaMetrics; it runs charged-but-failed detection;
central ingest reads the uplink; a real Prometheus scrapes the collector, ingest and the
ticket bridge every second and evaluates posfleet's own rule files (``for:`` durations
divided by the speed, as in tests/alerts/test_end_to_end.py); a real Alertmanager with the
shipped routes sends to the ticket bridge.

Queries are run as Grafana would: template variables take real values (the faulted
terminal's region, merchant, store and terminal, which the variable queries must offer),
``$__rate_interval``/``$__interval`` become 1m, ``$timeFilter`` the simulated period (the
InfluxDB timestamps are the terminals' simulated observation times). PromQL panel targets
run as range queries over the last minute (instant ones as instant queries), variables
through the series API, like Grafana's ``label_values``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml

from posfleet.alerts.bridge.bridge import TicketBridge
from posfleet.alerts.bridge.inventory import Inventory
from posfleet.collector.app import CollectorApp
from posfleet.config import parse_config
from posfleet.config.models import TicketsSettings
from posfleet.exporters.ingest.app import IngestApp
from posfleet.exporters.outputs import build_outputs
from posfleet.simulator.config_writer import TOKEN_ENV, fleet_config_yaml
from posfleet.simulator.fleet import generate_fleet
from posfleet.simulator.runner import RunOptions, Simulation
from posfleet.simulator.scenario import Scenario
from posfleet.stack.alertmanager import config_for_bridge
from tests.alerts.bridge.support import serving
from tests.alerts.support.clocks import SimulatedWallClock
from tests.alerts.support.scaled_rules import write_scaled_rule_files
from tests.dashboards.support import Query, queries
from tests.fixtures.net import LOOPBACK, free_port, http_request
from tests.fixtures.servers import (
    AlertmanagerFactory,
    InfluxDBFactory,
    MosquittoFactory,
    PrometheusFactory,
    PrometheusServer,
    Server,
    VictoriaMetricsFactory,
    scrape_job,
)

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted((ROOT / "alerts").glob("*.yml"))
SPEED = 60.0
START = datetime(2026, 11, 25, 11, 50, tzinfo=UTC)
SIM_TOKEN = "dash-sim-token"
BRIDGE_TOKEN = "dash-bridge-token"
DEADLINE_SECONDS = 60.0
"""Real seconds after the fleet starts within which every query must return data."""


@dataclass
class Stack:
    prometheus: PrometheusServer
    influxdb: Server
    values: dict[str, str]
    sim_start: float
    started: float = field(default_factory=time.monotonic)
    sim_now: float = 0.0
    failure: BaseException | None = None

    def substitute(self, text: str, *, influx: bool = False) -> str:
        for name, value in self.values.items():
            text = text.replace(f"${name}", value)
        text = text.replace("$__rate_interval", "1m").replace("$__interval", "1m")
        if influx:
            end = int(self.sim_now * 1000) + 60_000
            text = text.replace(
                "$timeFilter", f"time >= {int(self.sim_start * 1000)}ms and time <= {end}ms"
            )
        return text


def _get(url: str) -> Any:
    status, body = http_request("GET", url)
    assert status == 200, f"{url} -> {status}: {body[:300]!r}"
    return json.loads(body)


def _returns_data(stack: Stack, query: Query) -> tuple[bool, str]:
    prom = stack.prometheus.url
    if query.kind == "influxql":
        text = stack.substitute(query.text, influx=True)
        answer = _get(
            f"{stack.influxdb.url}/query?{urlencode({'db': 'posfleet', 'q': text})}"
        )
        result = answer["results"][0]
        if "error" in result:
            return False, f"{text}: {result['error']}"
        rows = sum(len(s["values"]) for s in result.get("series", []))
        return rows > 0, text
    text = stack.substitute(query.text)
    if query.kind == "variable":
        inner = text.removeprefix("label_values(").removesuffix(")")
        selector, _, label = inner.rpartition(",")
        series = _get(f"{prom}/api/v1/series?{urlencode({'match[]': selector.strip()})}")
        values = {s.get(label.strip()) for s in series["data"]}
        wanted = stack.values[query.where.removeprefix("variable ")]
        return wanted in values, f"{text} gave {sorted(v for v in values if v)}"
    if query.kind == "instant":
        answer = _get(f"{prom}/api/v1/query?{urlencode({'query': text})}")
        return bool(answer["data"]["result"]), text
    now = time.time()
    params = {"query": text, "start": now - 60, "end": now, "step": 5}
    answer = _get(f"{prom}/api/v1/query_range?{urlencode(params)}")
    return any(s["values"] for s in answer["data"]["result"]), text


@dataclass(frozen=True)
class Plan:
    """The scripted run: the scenario, the variable values and the polled terminal that
    stops answering."""

    scenario: Scenario
    values: dict[str, str]
    unreachable: str


def _minute(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%H:%M:%S")


def _scenario() -> Plan:
    """Faults that make every panel's series appear within the first ~15 simulated minutes
    (15 real seconds). The simulation is deterministic for a seed, so they appear on every
    run; tests/dashboards/test_scenario.py checks that on the model alone."""
    base = Scenario(
        seed=11,
        start=START,
        speed=SPEED,
        fleet={"terminals": 12, "stores": 3, "merchants": 2,
               "drivers": {"http": 0.5, "mqtt": 0.5, "escpos": 0.0}},
    )
    spec = generate_fleet(base.parameters())
    # MQTT terminals push their transactions; HTTP terminals are polled (and can fail polls).
    # The store with the most pushing tills has the most sales to fail, reverse and print.
    pushing = [t for t in spec.terminals if t.has_printer and t.driver == "mqtt"]
    store = max(spec.stores, key=lambda s: sum(t.store.id == s.id for t in pushing))
    tills = sorted((t for t in pushing if t.store.id == store.id),
                   key=lambda t: -t.traffic_per_hour)
    focus = tills[0]
    polled = [t for t in spec.terminals if t.driver == "http"]
    neighbour = sorted(polled, key=lambda t: t.store.id != store.id)[0]
    unreachable = next(t for t in polled if t.store.id != store.id)
    elsewhere = next(t for t in pushing if t.store.id != store.id)
    faults: list[dict[str, Any]] = [
        # Lost requests on the two busiest tills: sales time out, reversals are confirmed,
        # one fails three times running (a failed reversal and a charged-but-failed case),
        # one stays pending.
        *({"at": _minute(1), "kind": "network_degraded", "terminal": till.id,
           "for_minutes": 30} for till in tills[:2]),
        # The second till loses its link for three minutes while reversals are queued: each
        # retry fails, so one reversal fails for good (a charged-but-failed case).
        {"at": _minute(9), "kind": "link_flap", "terminal": tills[1].id, "for_minutes": 3},
        # After the collector has seen the roll fine and some printing: time to empty.
        {"at": _minute(6), "kind": "paper_near_end", "terminal": focus.id},
        # Paper out for three minutes on another till: a ticket opened and closed again.
        {"at": _minute(3), "kind": "paper_out", "terminal": elsewhere.id, "for_minutes": 3},
        {"at": _minute(2), "kind": "link_down", "terminal": neighbour.id},
        # A polled terminal rebooting for ten minutes answers 503: failed polls.
        {"at": _minute(2), "kind": "reboot", "terminal": unreachable.id, "for_minutes": 10},
        {"at": _minute(12), "kind": "gateway_outage", "merchant": store.merchant.id,
         "for_minutes": 8},
    ]
    scenario = Scenario.model_validate({**base.model_dump(), "faults": faults})
    values = {"region": store.region.id, "merchant": store.merchant.id, "store": store.id,
              "terminal": focus.id}
    return Plan(scenario, values, unreachable.id)


def _config(written: str, tmp: Path, *, collector: str, influx: str, broker: str, ingest: str,
            victoria: str) -> str:
    data = yaml.safe_load(written)
    data["collector"] = {"id": "edge-dash", "interval_seconds": 1.0, "timeout_seconds": 1.0,
                         "offline_after_failures": 2, "backoff_max_seconds": 2.0,
                         "listen": collector}
    data["influxdb"] = {"url": influx, "database": "posfleet", "flush_interval_seconds": 0.5}
    data["buffer"] = {"directory": str(tmp / "buffer")}
    data["uplink"] = {"url": broker}
    data["ingest"] = {"url": broker, "listen": ingest, "subscribe_terminal_pushes": False}
    data["remote_write"] = {"url": f"{victoria}/api/v1/write", "interval_seconds": 1.0}
    data.setdefault("payments", {}).update(
        {"detect_cases_in": "collector", "database": str(tmp / "payments.sqlite3"),
         "reversal_grace_seconds": 60.0, "sweep_interval_seconds": 1.0}
    )
    return yaml.safe_dump(data)


class HeldClock:
    """Simulated time that stands at the start until :meth:`release`, then runs ``speed``
    times faster than real time: the scripted minutes count from the moment the collector
    listens, however long the servers took to start."""

    def __init__(self, start: float, speed: float) -> None:
        self._start = start
        self._speed = speed
        self._origin: float | None = None

    def release(self) -> None:
        self._origin = time.monotonic()

    def now(self) -> float:
        if self._origin is None:
            return self._start
        return self._start + (time.monotonic() - self._origin) * self._speed


async def _subscribed(app: CollectorApp) -> None:
    """Return once the collector listens to the terminals' MQTT pushes."""
    for _ in range(400):  # the hub is made when the app starts running
        if app.hub is not None:
            await asyncio.wait_for(app.hub.connected.wait(), 20.0)
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the collector made no MQTT hub within 20 s")


async def _run_fleet(stack: Stack, plan: Plan, tmp: Path, addresses: dict[str, str],
                     ready: threading.Event, stop: asyncio.Event) -> None:
    clock = HeldClock(plan.scenario.start.timestamp(), plan.scenario.speed)
    simulation = Simulation(RunOptions(scenario=plan.scenario, http_listen=(LOOPBACK, 0),
                                       token=SIM_TOKEN, mqtt_url=addresses["broker"],
                                       write_config=tmp / "fleet.yml"), clock=clock)
    simulating = asyncio.create_task(simulation.run(stop))
    await asyncio.wait_for(simulation.ready.wait(), 20)
    config = parse_config(_config((tmp / "fleet.yml").read_text(), tmp, **addresses), "dash")
    outputs = build_outputs(config, role="collector")
    app = CollectorApp(config, outputs.sinks, clock=SimulatedWallClock(simulation.clock),
                       environ={TOKEN_ENV: SIM_TOKEN})
    outputs.register_metrics(app.registry)
    ingest = IngestApp(config, client_id="dash-ingest")
    await outputs.start()
    tasks = [simulating, asyncio.create_task(app.run(stop)), asyncio.create_task(ingest.run(stop))]
    await _subscribed(app)
    clock.release()
    stack.started = time.monotonic()
    ready.set()
    while not stop.is_set():
        stack.sim_now = simulation.clock.now()
        failed = [t for t in tasks if t.done()]
        if failed:
            stack.failure = failed[0].exception() or RuntimeError("a component stopped")
            break
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("dashboards")
    plan = _scenario()
    scenario = plan.scenario
    with (
        InfluxDBFactory(tmp_path_factory) as influxdbs,
        MosquittoFactory(tmp_path_factory) as brokers,
        VictoriaMetricsFactory(tmp_path_factory) as victorias,
        AlertmanagerFactory(tmp_path_factory) as alertmanagers,
        PrometheusFactory(tmp_path_factory) as prometheuses,
    ):
        influxdb, broker, victoria = influxdbs(), brokers(), victorias()
        status, body = http_request(
            "POST", f"{influxdb.url}/query?{urlencode({'q': 'CREATE DATABASE posfleet'})}"
        )
        assert status == 200, body
        spec_config = parse_config(
            fleet_config_yaml(generate_fleet(scenario.parameters()),
                              http_base="http://placeholder.invalid", mqtt_url=None,
                              escpos_ports={}),
            "simulated fleet",
        )
        bridge = TicketBridge(
            TicketsSettings(database=str(tmp / "tickets.sqlite3"), bearer_tokens=[BRIDGE_TOKEN],
                            close_grace_seconds=2.0, outbox_poll_seconds=0.5),
            Inventory(spec_config),
        )
        with serving(bridge.app) as bridge_url:
            token_file = tmp / "bridge-token"
            token_file.write_text(BRIDGE_TOKEN)
            manager = alertmanagers(config=yaml.safe_dump(
                config_for_bridge(f"{bridge_url}/api/v1/alertmanager", token_file, wait="1s")
            ))
            addresses = {"collector": f"{LOOPBACK}:{free_port()}",
                         "ingest": f"{LOOPBACK}:{free_port()}",
                         "influx": influxdb.url, "broker": broker.url, "victoria": victoria.url}
            prometheus = prometheuses(
                scrape_configs=[
                    scrape_job("posfleet-collector", [addresses["collector"]]),
                    scrape_job("posfleet-ingest", [addresses["ingest"]]),
                    scrape_job("posfleet-tickets", [bridge_url.removeprefix("http://")]),
                ],
                rule_files=write_scaled_rule_files(RULE_FILES, tmp / "rules", SPEED),
                alertmanagers=[manager],
            )
            stack = Stack(prometheus, influxdb, plan.values,
                          sim_start=scenario.start.timestamp())
            ready, loop_stop = threading.Event(), threading.Event()
            holder: dict[str, asyncio.Event] = {}

            async def main() -> None:
                holder["stop"] = asyncio.Event()
                watcher = asyncio.create_task(asyncio.to_thread(loop_stop.wait))
                watcher.add_done_callback(lambda _t: holder["stop"].set())
                try:
                    await _run_fleet(stack, plan, tmp, addresses, ready, holder["stop"])
                finally:
                    loop_stop.set()
                    await watcher

            def run() -> None:
                try:
                    asyncio.run(main())
                except BaseException as exc:  # reported by the tests
                    stack.failure = exc
                    ready.set()

            thread = threading.Thread(target=run, name="dashboards-fleet", daemon=True)
            thread.start()
            try:
                assert ready.wait(60), "the simulated fleet did not start"
                if stack.failure is not None:
                    raise stack.failure
                yield stack
            finally:
                loop_stop.set()
                thread.join(timeout=60)


QUERIES = queries()


def test_every_query_is_checked() -> None:
    # Panels, variables and annotations of all five dashboards, none left out.
    assert len({q.id for q in QUERIES}) == len(QUERIES) > 100
    assert {q.dashboard for q in QUERIES} == {"posfleet-fleet", "posfleet-store",
                                               "posfleet-terminal", "posfleet-transactions",
                                               "posfleet-self"}


@pytest.mark.parametrize("query", QUERIES, ids=[q.id for q in QUERIES])
def test_query_returns_data_from_the_simulated_fleet(stack: Stack, query: Query) -> None:
    deadline = stack.started + DEADLINE_SECONDS
    while True:
        assert stack.failure is None, f"the fleet stopped: {stack.failure!r}"
        ok, detail = _returns_data(stack, query)
        if ok:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{query.id}: no data after {DEADLINE_SECONDS:.0f} s\n{detail}")
        time.sleep(1.0)


def test_open_tickets_are_counted_by_the_team_of_their_alert(stack: Stack) -> None:
    (query,) = [q for q in QUERIES if q.id == "posfleet-fleet: panel 12 'Open tickets by team' A"]
    teams: dict[str, float] = {}
    deadline = stack.started + DEADLINE_SECONDS
    while not teams and time.monotonic() < deadline:
        answer = _get(f"{stack.prometheus.url}/api/v1/query?"
                      f"{urlencode({'query': stack.substitute(query.text)})}")
        teams = {s["metric"].get("team", ""): float(s["value"][1])
                 for s in answer["data"]["result"]}
        time.sleep(0.5)
    # The shipped rules route every alert to one of three teams; the bridge keeps the label.
    assert teams, "no open ticket with a team"
    assert set(teams) <= {"merchant", "technician", "it"}, teams
    assert all(count >= 1 for count in teams.values()), teams
