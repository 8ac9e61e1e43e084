"""Run the demo: a simulated chain of stores through the whole posfleet chain, live.

simulator -> collector (polls HTTP/ESC-POS terminals, takes MQTT pushes) -> MQTT uplink ->
Mosquitto -> ingest -> InfluxDB, and /metrics of collector and ingest -> Prometheus with
posfleet's rules -> Alertmanager -> ticket bridge (-> web app, when this posfleet has it).

The central servers are the ones ``posfleet stack`` runs (:mod:`posfleet.stack.stack`), on
free loopback ports, attached to this process. The simulator, the collector and ingest run
in this process, because their clocks follow the simulation: the fleet lives ``speed``
times faster than real time, and so do the collector's and ingest's wall clocks (store
hours, the paper forecast). Prometheus and Alertmanager keep real time, so the demo loads
the shipped rule files on a faster clock (``for:`` durations, range windows and
``predict_linear`` horizons divided by the speed; see :mod:`posfleet.stack.rules`; alerts
comparing with ``time()`` are left out and listed) and sets Alertmanager's group waits to
1 s. Pipeline delays (polls, scrapes, evaluations) cost ``speed`` times more simulated time
than in production, so the demo's warnings come later than real ones would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from posfleet.collector.app import CollectorApp
from posfleet.collector.state import Health
from posfleet.config import PosfleetConfig
from posfleet.demo.clock import SimulatedWallClock, TimeMap
from posfleet.demo.score import GroundTruthReader, Score, opened_tickets, score
from posfleet.exporters.ingest.app import IngestApp
from posfleet.exporters.outputs import Outputs, build_outputs
from posfleet.simulator.config_writer import TOKEN_ENV, fleet_config_yaml
from posfleet.simulator.fleet import generate_fleet
from posfleet.simulator.runner import RunOptions, Simulation
from posfleet.simulator.scenario import Scenario
from posfleet.stack import services
from posfleet.stack.net import free_port
from posfleet.stack.rules import write_accelerated_rule_files
from posfleet.stack.services import Service
from posfleet.stack.stack import (
    CENTRAL_CONFIG,
    TICKETS_TOKEN_FILE,
    StackPlan,
    build_services,
    check_ports,
    forget_state,
    free_loopback_listen,
    start_services,
    state_recorder,
    stop_services,
    tickets_token,
)
from posfleet.telemetry import StatusSnapshot, TransactionEvent

SUMMARY_FILE = "summary.json"
DEMO_USERS_FILE = "demo-logins.txt"
_RUN_FILES = (
    "mosquitto", "influxdb", "tickets", "alertmanager", "ingest", "web", "prometheus",
    "rules", "collector", "secrets", "fleet.yml", "inventory.yml", "central.yml",
    "ground-truth.jsonl", "status.sqlite3", "payments.sqlite3", SUMMARY_FILE, DEMO_USERS_FILE,
    "stack.json",
)
"""What a demo run writes under its directory; removed when the next run starts."""

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    directory: Path
    scenario: Scenario
    duration: float | None = None
    summary_every_seconds: float = 5.0
    collector_interval_seconds: float = 2.0
    """Real seconds between polls (a simulated minute at speed 30)."""
    web: bool = True
    """Run the web app when this posfleet has it."""


class CountingSink:
    """Counts what reaches the outputs without keeping it (a demo may run for hours)."""

    def __init__(self) -> None:
        self.snapshot_count = 0
        self.outcomes: Counter[str] = Counter()

    async def publish(self, snapshot: StatusSnapshot) -> None:
        self.snapshot_count += 1

    async def publish_transaction(self, event: TransactionEvent) -> None:
        self.outcomes[event.outcome.value] += 1

    async def close(self) -> None:
        return None


def clear_previous_run(directory: Path) -> None:
    """Remove what an earlier demo wrote under ``directory`` (and nothing else)."""
    for name in _RUN_FILES:
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _inventory_yaml(scenario: Scenario) -> str:
    """The simulated fleet's merchants and stores, for the ticket bridge and ingest."""
    return fleet_config_yaml(
        generate_fleet(scenario.parameters()),
        http_base="http://simulator.invalid",
        mqtt_url=None,
        escpos_ports={},
    )


def _collector_config(
    written: str, directory: Path, listen: str, mqtt_url: str, interval: float
) -> PosfleetConfig:
    """The simulator's fleet file, with the demo's collector, uplink and buffer settings."""
    # The simulator wrote a valid file; the C loader and plain validation save the time of
    # the line-tracking loader on a file of hundreds of terminals.
    data = yaml.load(written, Loader=_YAML_LOADER)
    data.setdefault("collector", {}).update(
        {"id": "demo-edge", "interval_seconds": interval, "listen": listen}
    )
    data["uplink"] = {"url": mqtt_url}
    data.setdefault("buffer", {})["directory"] = str(directory / "collector" / "buffer")
    return PosfleetConfig(**data)


@dataclass
class Live:
    """What the summary line shows, refreshed every few seconds."""

    tickets: list[dict[str, Any]] = field(default_factory=list)
    tickets_error: str | None = None
    score: Score | None = None


def create_demo_logins(directory: Path, merchants: list[str]) -> list[str]:
    """Web users for the demo: one IT user and one per merchant, with fresh passwords (also
    written to ``<dir>/demo-logins.txt``, mode 0600). Returns "user / password (role)"."""
    from posfleet.web.accounts import ensure_user

    (directory / "web").mkdir(parents=True, exist_ok=True)
    database = str(directory / "web" / "accounts.sqlite3")
    users = [("it", "it", None)] + [
        (f"merchant-{merchant.lower()}", "merchant", merchant) for merchant in merchants
    ]
    lines = []
    for username, role, merchant in users:
        password = secrets.token_urlsafe(12)
        ensure_user(database, username, password, role, merchant)
        scope = f"merchant {merchant}" if merchant else "IT: the whole fleet"
        lines.append(f"{username} / {password}  ({scope})")
    path = directory / DEMO_USERS_FILE
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def fetch_tickets(tickets_url: str, token: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{tickets_url}/api/v1/tickets?limit=1000",
        headers={"Authorization": f"Bearer {token}"},
    )
    with _OPENER.open(request, timeout=5) as response:
        body = json.loads(response.read())
    found: list[dict[str, Any]] = body["tickets"]
    return found


def summary_line(
    app: CollectorApp, sink: CountingSink, simulation: Simulation, live: Live
) -> str:
    counts = app.state.health_counts()
    states = ", ".join(
        f"{counts.get(health, 0)} {health.value}"
        for health in (Health.ONLINE, Health.DEGRADED, Health.OFFLINE, Health.UNKNOWN)
        if counts.get(health, 0)
    )
    simulated = time.strftime("%H:%M", time.gmtime(simulation.fleet.now))
    sales = sum(sink.outcomes.values())
    failed = sales - sink.outcomes.get("approved", 0)
    open_count = sum(1 for ticket in live.tickets if ticket.get("status") != "closed")
    tickets = (
        f"tickets {len(live.tickets)} opened ({open_count} open)"
        if live.tickets_error is None
        else f"tickets: {live.tickets_error}"
    )
    result = live.score
    prevented = (
        f" | failures from faults {result.fault_failures}, prevented {result.prevented}"
        if result is not None
        else ""
    )
    return (
        f"sim {simulated} UTC | terminals: {states or 'none yet'} | transactions {sales} "
        f"({failed} not approved) | {tickets}{prevented}"
    )


def _url_lines(plan: StackPlan, started: list[Service], ingest_listen: str, collector: str,
               token_file: Path, web_logins: list[str]) -> list[str]:
    by_name = {service.name: service for service in started}
    lines = []
    if "prometheus" in by_name:
        lines.append(f"  Prometheus       {by_name['prometheus'].url}/alerts")
    if "alertmanager" in by_name:
        lines.append(f"  Alertmanager     {by_name['alertmanager'].url}")
    if "influxdb" in by_name:
        url = by_name["influxdb"].url
        lines.append(
            f"  InfluxDB         {url}  (database {services.INFLUXDB_DATABASE}; "
            f"curl '{url}/query?db={services.INFLUXDB_DATABASE}&q=SHOW+MEASUREMENTS')"
        )
    if "tickets" in by_name:
        lines.append(
            f"  tickets API      {by_name['tickets'].url}/api/v1/tickets  "
            f"(Authorization: Bearer $(cat {token_file}))"
        )
    if "web" in by_name:
        lines.append(f"  web              {by_name['web'].url}/")
        lines.extend(f"    login          {login}" for login in web_logins)
    lines.append(f"  MQTT broker      {plan.url('mosquitto')}")
    lines.append(f"  ingest           http://{ingest_listen}/metrics")
    lines.append(f"  collector        http://{collector}/metrics")
    return lines


async def _refresh(
    live: Live,
    tickets_url: str,
    token: str,
    truth: GroundTruthReader,
    time_map: TimeMap,
) -> None:
    try:
        live.tickets = await asyncio.to_thread(fetch_tickets, tickets_url, token)
        live.tickets_error = None
    except (OSError, ValueError, KeyError) as exc:
        live.tickets_error = f"bridge not answering ({exc})"
    await asyncio.to_thread(truth.poll)
    live.score = score(truth.failures, opened_tickets(live.tickets, time_map.simulated))


def _write_summary(directory: Path, live: Live, time_map: TimeMap) -> None:
    result = live.score
    data: dict[str, Any] = {
        "time_map": time_map.as_dict(),
        "tickets": [
            {key: ticket.get(key) for key in
             ("id", "alertname", "terminal", "store", "component", "status", "opened_at")}
            for ticket in live.tickets
        ],
        "fault_failures": result.fault_failures if result else 0,
        "failures_after_ticket": result.prevented if result else 0,
        "first_warned": None,
    }
    if result is not None and result.first_warned is not None:
        failure, ticket = result.first_warned
        data["first_warned"] = {
            "terminal": failure.terminal,
            "component": failure.component,
            "fault_kind": failure.fault_kind,
            "failure_at_simulated": failure.at,
            "ticket_id": ticket.ticket_id,
            "alertname": ticket.alertname,
            "ticket_opened_simulated": ticket.opened_at,
        }
    (directory / SUMMARY_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


async def run_demo(options: DemoOptions, say: Callable[[str], None], stop: asyncio.Event) -> None:
    """Start everything, print the URLs and a live summary until ``stop`` (or the duration);
    stop everything. StackError when a server does not start (named, with its log's end)."""
    directory = options.directory
    scenario = options.scenario
    directory.mkdir(parents=True, exist_ok=True)
    clear_previous_run(directory)
    say(f"demo data and logs under {directory}")
    inventory = directory / "inventory.yml"
    inventory.write_text(_inventory_yaml(scenario), encoding="utf-8")
    rule_files, left_out = write_accelerated_rule_files(
        services.shipped_rule_files(), directory / "rules", scenario.speed
    )
    listen = free_loopback_listen()
    collector_listen = f"127.0.0.1:{free_port()}"
    plan = StackPlan(
        directory=directory,
        listen=listen,
        influxdb_rpc_port=free_port(),
        config_path=inventory,
        collectors=[collector_listen],
        detached=False,
        with_ingest=False,
        with_web=options.web,
        rule_files=rule_files,
        scrape_interval="1s",
        evaluation_interval="1s",
        alertmanager_wait="1s",
        extra_config={
            # The collector uplinks every terminal, MQTT pushers included.
            "ingest": {"subscribe_terminal_pushes": False, "client_id": "demo-ingest"},
            # Suspected charged-but-failed payments, for the merchants' pages.
            "payments": {"detect_cases_in": "ingest"},
        },
    )
    logins_made: asyncio.Future[list[str]] | None = None
    if plan.runs_web:
        # Password hashing (argon2, in C) runs while build_services parses YAML (Python),
        # before the web app opens the accounts database.
        merchants = sorted(
            {t.store.merchant.id for t in generate_fleet(scenario.parameters()).terminals}
        )
        logins_made = asyncio.ensure_future(
            asyncio.to_thread(create_demo_logins, directory, merchants)
        )
    try:
        built = await asyncio.to_thread(build_services, plan)
    finally:
        logins = await logins_made if logins_made is not None else []
    await asyncio.to_thread(check_ports, built)
    say("starting the central services (logs: <data dir>/<service>/<service>.log) ...")
    started: list[Service] = []
    record = state_recorder(directory)  # `posfleet stack status --dir` works on the demo

    def on_started(service: Service) -> None:
        started.append(service)
        record(service)

    try:
        await asyncio.to_thread(start_services, built, say, on_started)
        if not any(service.name == "web" for service in started):
            logins = []
        if not stop.is_set():
            await _run_fleet(
                options, plan, started, collector_listen, left_out, logins, say, stop
            )
    finally:
        say("stopping the central services ...")
        await asyncio.to_thread(stop_services, started)
        forget_state(directory)
        say("demo stopped")


async def _run_fleet(
    options: DemoOptions,
    plan: StackPlan,
    started: list[Service],
    collector_listen: str,
    left_out: list[str],
    logins: list[str],
    say: Callable[[str], None],
    stop: asyncio.Event,
) -> None:
    directory = options.directory
    scenario = options.scenario
    token = tickets_token(directory)
    token_file = directory / "secrets" / TICKETS_TOKEN_FILE
    tickets_url = plan.url("tickets")
    # build_services checked this file with the line-tracking loader a moment ago.
    central = PosfleetConfig(
        **yaml.load((directory / CENTRAL_CONFIG).read_text(encoding="utf-8"),
                    Loader=_YAML_LOADER)
    )
    simulator_token = secrets.token_urlsafe(16)
    simulation = Simulation(
        RunOptions(
            scenario=scenario,
            http_listen=("127.0.0.1", 0),
            token=simulator_token,
            mqtt_url=plan.url("mosquitto"),
            write_config=directory / "fleet.yml",
            ground_truth=directory / "ground-truth.jsonl",
        )
    )
    wall = SimulatedWallClock(simulation.clock)
    time_map = TimeMap(simulation.clock, scenario.speed)
    ingest_outputs = build_outputs(central, role="ingest")
    ingest = IngestApp(
        central,
        ingest_outputs.sinks,
        listen=plan.listen["ingest"],
        client_id="demo-ingest",
        clock=wall,
    )
    ingest_outputs.register_metrics(ingest.registry)
    stop_ingest, stop_simulation, stop_collector = (asyncio.Event() for _ in range(3))
    tasks: list[asyncio.Task[None]] = []
    try:
        await ingest_outputs.start()
        tasks.append(asyncio.create_task(ingest.run(stop_ingest), name="ingest"))
        spec = simulation.spec
        say(
            f"starting the simulated fleet: {len(spec.terminals)} terminals in "
            f"{len(spec.stores)} stores of {len(spec.merchants)} merchants, "
            f"{scenario.speed:g}x real time ..."
        )
        tasks.append(asyncio.create_task(simulation.run(stop_simulation), name="simulator"))
        await asyncio.wait_for(simulation.ready.wait(), 60)
        config = _collector_config(
            (directory / "fleet.yml").read_text(encoding="utf-8"),
            directory,
            collector_listen,
            plan.url("mosquitto"),
            options.collector_interval_seconds,
        )
        collector_outputs: Outputs = build_outputs(config, role="collector")
        sink = CountingSink()
        app = CollectorApp(
            config, [*collector_outputs.sinks, sink], clock=wall,
            environ={TOKEN_ENV: simulator_token},
        )
        collector_outputs.register_metrics(app.registry)
        await collector_outputs.start()
        tasks.append(asyncio.create_task(app.run(stop_collector), name="collector"))
        while app.metrics_address is None and not any(task.done() for task in tasks):
            await asyncio.wait(tasks, timeout=0.1)
        for line in _url_lines(plan, started, plan.listen["ingest"], collector_listen,
                               token_file, logins):
            say(line)
        say(f"  fleet config     {directory / 'fleet.yml'}")
        say(
            f"alert rules: the shipped alerts/*.yml on a {scenario.speed:g}x faster clock "
            f"(for: durations and range windows divided by {scenario.speed:g})"
        )
        if left_out:
            say(f"  left out (they compare with real time): {', '.join(left_out)}")
        say("running; Ctrl-C stops everything")
        truth = GroundTruthReader(directory / "ground-truth.jsonl")
        live = Live()
        deadline = time.monotonic() + options.duration if options.duration else None
        while not stop.is_set() and not any(task.done() for task in tasks):
            wait = options.summary_every_seconds
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            await _refresh(live, tickets_url, token, truth, time_map)
            say(summary_line(app, sink, simulation, live))
            if deadline is not None and time.monotonic() >= deadline:
                break
        failed = [task for task in tasks if task.done() and task.exception() is not None]
        if failed:
            raise RuntimeError(f"demo component {failed[0].get_name()} failed") from (
                failed[0].exception()
            )
        _write_summary(directory, live, time_map)
        if live.score is not None and live.score.first_warned is not None:
            failure, ticket = live.score.first_warned
            lead = (failure.at - ticket.opened_at) / 60
            say(
                f"ticket {ticket.ticket_id} ({ticket.alertname}, {failure.terminal}) opened "
                f"{lead:.0f} simulated minutes before its first failed payment"
            )
    finally:
        say("stopping the fleet, collector and ingest ...")
        stop_collector.set()
        stop_simulation.set()
        # Let the collector's uplink drain before ingest goes.
        collector_tasks = [t for t in tasks if t.get_name() != "ingest"]
        await asyncio.gather(*collector_tasks, return_exceptions=True)
        stop_ingest.set()
        await asyncio.gather(*tasks, return_exceptions=True)
