"""End to end: a receipt roll runs low while its terminal keeps selling, and the maintenance
ticket opens before the first payment fails for lack of paper; once the roll is replaced
the ticket is resolved and closes.

Everything is real and wired as deployed: the simulator serves the fleet of
``deploy/scenarios/paper-runs-out.yml`` over HTTP and writes its ground truth; the collector
polls it and serves /metrics (terminal and derived metrics such as
``posfleet_printer_paper_time_to_empty_seconds`` and ``posfleet_store_open``); Prometheus
scrapes it every second and evaluates the shipped rule files of ``alerts/`` every second;
Alertmanager runs the shipped ``deploy/alertmanager/alertmanager.yml`` (routes and
inhibitions unchanged; the bridge receiver pointed at this test's bridge and token, the
other receivers silenced, group waits shortened to 1 s); the ticket bridge runs in uvicorn
on a free port with SQLite in the test's temp directory.

**Time is scaled.** The simulator runs at the scenario's speed (60 simulated seconds per
real second), and Prometheus's ``for:`` durations are real time, so the rules are loaded
from a copy of the shipped rule files in which every ``for:`` and ``keep_firing_for:`` is
divided by the same factor (``for: 2m`` lasts 2 real seconds, i.e. 2 simulated minutes).
The rule logic (expressions, thresholds, labels) is the shipped one. The collector's wall
clock follows simulated time, so store opening hours and the paper forecast see the
simulated lunch time the terminals report from. Pipeline delays that are not scaled
(polls, scrapes, evaluation, group waits) cost 60 times more simulated time than they
would at real speed, so the lead time measured here is a lower bound.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml

from posfleet.alerts.bridge.bridge import TicketBridge
from posfleet.alerts.bridge.inventory import Inventory
from posfleet.collector.app import CollectorApp
from posfleet.config import PosfleetConfig, parse_config
from posfleet.config.models import TicketsSettings
from posfleet.simulator.config_writer import TOKEN_ENV, fleet_config_yaml
from posfleet.simulator.fleet import generate_fleet
from posfleet.simulator.runner import RunOptions, Simulation
from posfleet.simulator.scenario import Scenario, load_scenario
from posfleet.stack.alertmanager import config_for_bridge
from tests.alerts.bridge.support import serving
from tests.alerts.support.clocks import SimulatedWallClock, TimeMap
from tests.alerts.support.ground_truth import GroundTruth, instant
from tests.alerts.support.scaled_rules import SCALED_KEYS, write_scaled_rule_files
from tests.fixtures.net import LOOPBACK, free_port, http_request
from tests.fixtures.servers import AlertmanagerFactory, PrometheusFactory, scrape_job

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "deploy" / "scenarios" / "paper-runs-out.yml"
RULE_FILES = sorted((ROOT / "alerts").glob("*.yml"))
BRIDGE_TOKEN = "e2e-bridge-token"
SIMULATOR_TOKEN = "e2e-simulator-token"
CLOSE_GRACE_SECONDS = 2.0
WARNING_ALERT = "PrinterPaperRunningOut"
RUN_LIMIT_SECONDS = 80.0
"""Real seconds the simulation may run before the test gives up waiting for the close."""


def _without_durations(document: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [
        [{k: v for k, v in rule.items() if k not in SCALED_KEYS} for rule in group["rules"]]
        for group in document["groups"]
    ]


def test_time_scaled_rules_are_the_shipped_rules_on_a_faster_clock(tmp_path: Path) -> None:
    copies = write_scaled_rule_files(RULE_FILES, tmp_path, 60)

    result = subprocess.run(
        ["promtool", "check", "rules", *map(str, copies)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for shipped_path, copy_path in zip(RULE_FILES, copies, strict=True):
        shipped, copy = (yaml.safe_load(p.read_text()) for p in (shipped_path, copy_path))
        assert _without_durations(copy) == _without_durations(shipped), shipped_path.name
    (printer,) = [c for c in copies if c.name == "printer.yml"]
    rules = {
        rule["alert"]: rule
        for group in yaml.safe_load(printer.read_text())["groups"]
        for rule in group["rules"]
    }
    assert rules["PrinterPaperRunningOut"]["for"] == "500ms"  # 30s / 60
    assert rules["PrinterPaperRunningOut"]["keep_firing_for"] == "15000ms"  # 15m / 60


@dataclass(frozen=True)
class BridgeApi:
    """The ticket bridge's REST API, as a person or a script would call it."""

    url: str

    def _get(self, path: str) -> Any:
        status, body = http_request(
            "GET", f"{self.url}{path}", headers={"Authorization": f"Bearer {BRIDGE_TOKEN}"}
        )
        assert status == 200, f"GET {path} -> {status}: {body[:300]!r}"
        return json.loads(body)

    def tickets(self, **criteria: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._get(f"/api/v1/tickets?{urlencode(criteria)}")[
            "tickets"
        ]
        return found

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self._get(f"/api/v1/tickets/{ticket_id}")
        return found


def _inventory(scenario: Scenario) -> Inventory:
    """The bridge's store inventory: the simulated fleet's stores, as the config has them."""
    text = fleet_config_yaml(
        generate_fleet(scenario.parameters()),
        http_base="http://placeholder.invalid",
        mqtt_url=None,
        escpos_ports={},
    )
    return Inventory(parse_config(text, "simulated fleet"))


def _collector_config(written: str, listen: str) -> PosfleetConfig:
    data = yaml.safe_load(written)
    data["collector"] = {
        "id": "edge-e2e",
        "interval_seconds": 0.5,
        "timeout_seconds": 1.0,
        "offline_after_failures": 3,
        "backoff_max_seconds": 1.0,
        "listen": listen,
    }
    return parse_config(yaml.safe_dump(data), "simulator-written config")


@pytest.fixture
def bridge_api(tmp_path: Path) -> Iterator[BridgeApi]:
    scenario = load_scenario(SCENARIO)
    bridge = TicketBridge(
        TicketsSettings(
            database=str(tmp_path / "tickets.sqlite3"),
            bearer_tokens=[BRIDGE_TOKEN],
            close_grace_seconds=CLOSE_GRACE_SECONDS,
            outbox_poll_seconds=0.2,
        ),
        _inventory(scenario),
    )
    with serving(bridge.app) as url:
        yield BridgeApi(url)


@dataclass
class Observed:
    """What the test saw while the fleet ran."""

    ticket_id: int | None = None
    seen_simulated: float | None = None
    closed: dict[str, Any] | None = None


async def _watch_ticket(
    api: BridgeApi, terminal: str, time_map: TimeMap, deadline: float
) -> Observed:
    """Poll the bridge until the warning ticket of ``terminal`` is closed (or the deadline)."""
    observed = Observed()
    while time.monotonic() < deadline:
        tickets = await asyncio.to_thread(
            lambda: api.tickets(terminal=terminal, component="printer")
        )
        warning = [t for t in tickets if t["alertname"] == WARNING_ALERT]
        if warning and observed.ticket_id is None:
            observed.ticket_id = warning[-1]["id"]
            observed.seen_simulated = time_map.simulated(time.time())
        if observed.ticket_id is not None:
            ticket = next(t for t in tickets if t["id"] == observed.ticket_id)
            if ticket["status"] == "closed":
                observed.closed = await asyncio.to_thread(api.ticket, observed.ticket_id)
                return observed
        await asyncio.sleep(0.25)
    return observed


@pytest.mark.server
async def test_ticket_opens_before_the_first_payment_fails_for_lack_of_paper(
    prometheus_factory: PrometheusFactory,
    alertmanager_factory: AlertmanagerFactory,
    bridge_api: BridgeApi,
    tmp_path: Path,
) -> None:
    scenario = load_scenario(SCENARIO)
    speed = scenario.speed
    (near_end,) = [fault for fault in scenario.faults if fault.kind == "paper_near_end"]
    terminal = near_end.target

    token_file = tmp_path / "bridge-token"
    token_file.write_text(BRIDGE_TOKEN)
    manager = alertmanager_factory(
        config=yaml.safe_dump(
            config_for_bridge(f"{bridge_api.url}/api/v1/alertmanager", token_file, wait="1s")
        )
    )
    collector_listen = f"{LOOPBACK}:{free_port()}"
    prometheus_factory(
        scrape_configs=[scrape_job("posfleet-collector", [collector_listen])],
        rule_files=write_scaled_rule_files(RULE_FILES, tmp_path / "rules", speed),
        alertmanagers=[manager],
    )

    truth_path = tmp_path / "truth.jsonl"
    config_path = tmp_path / "fleet.yml"
    simulation = Simulation(
        RunOptions(
            scenario=scenario,
            http_listen=(LOOPBACK, 0),
            token=SIMULATOR_TOKEN,
            write_config=config_path,
            ground_truth=truth_path,
        )
    )
    time_map = TimeMap(simulation.clock, speed)
    stop_simulation, stop_collector = asyncio.Event(), asyncio.Event()
    simulating = asyncio.create_task(simulation.run(stop_simulation))
    collecting: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(simulation.ready.wait(), 10)
        app = CollectorApp(
            _collector_config(config_path.read_text(), collector_listen),
            clock=SimulatedWallClock(simulation.clock),
            environ={TOKEN_ENV: SIMULATOR_TOKEN},
        )
        collecting = asyncio.create_task(app.run(stop_collector))
        observed = await _watch_ticket(
            bridge_api, terminal, time_map, time.monotonic() + RUN_LIMIT_SECONDS
        )
    finally:
        stop_collector.set()
        stop_simulation.set()
        if collecting is not None:
            await asyncio.wait_for(collecting, 30)
        await asyncio.wait_for(simulating, 30)

    truth = GroundTruth.read(truth_path)
    failure = truth.first_failure(terminal, "paper_out")
    assert failure is not None, f"the paper of {terminal} never ran out in the simulation"
    (paper_out, *_) = truth.faults(terminal, "paper_out")
    assert observed.ticket_id is not None, f"no {WARNING_ALERT} ticket for {terminal}"
    ticket = observed.closed or bridge_api.ticket(observed.ticket_id)
    opened = time_map.simulated(instant(ticket["opened_at"]))
    failed_at = instant(failure["occurred_at"])
    lead = failed_at - opened
    print(
        f"\n{WARNING_ALERT} ticket {ticket['id']} for {terminal} opened "
        f"{lead / 60:.1f} simulated minutes ({lead / speed:.1f} real seconds at speed "
        f"{speed:g}) before the first payment failed for lack of paper; the paper ran out "
        f"{(instant(paper_out['start']) - opened) / 60:.1f} simulated minutes after it opened"
    )
    for other in bridge_api.tickets():
        print(f"  ticket {other['id']}: {other['identity']!r} {other['status']}")
    assert ticket["terminal"] == terminal
    assert ticket["component"] == "printer"
    assert opened < instant(paper_out["start"]), "the ticket opened while the terminal printed"
    assert opened < failed_at, "the ticket opened before the first failed payment"

    assert observed.closed is not None, (
        f"the ticket did not close within {RUN_LIMIT_SECONDS:g} s; its history: "
        f"{[entry['kind'] for entry in ticket['history'] or []]}"
    )
    history = observed.closed["history"]
    kinds = [entry["kind"] for entry in history]
    assert kinds[0] == "opened"
    assert kinds[-2:] == ["resolved", "closed"], kinds
    resolved, closed = history[-2], history[-1]
    assert "Resolved: the fault cleared" in resolved["text"]
    assert paper_out["end"] is not None, "the roll was replaced"
    assert time_map.simulated(instant(resolved["at"])) > instant(paper_out["end"]), (
        "resolved after the roll was replaced"
    )
    grace = instant(closed["at"]) - instant(resolved["at"])
    assert grace >= CLOSE_GRACE_SECONDS, "closed only after the grace period"

