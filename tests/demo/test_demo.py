"""The README's first command: ``posfleet demo`` runs the whole chain and stops cleanly.

Run as a subprocess, as a user runs it: real Mosquitto, InfluxDB, Prometheus, Alertmanager,
ticket bridge and web app on free loopback ports under the test's temp directory, the
simulated fleet of ``deploy/scenarios/demo.yml`` (150 terminals, speed 30), collector and
ingest. While it runs the test looks at the servers through the printed URLs; afterwards
it checks the ground truth against the tickets (a ticket opened before the fleet's first
failed payment caused by a fault) and that nothing is left running.
"""

from __future__ import annotations

import json
import re
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from posfleet.stack.stack import STATE_FILE
from tests.fixtures.net import http_request
from tests.stack.support import alive, fake_server_on_path, listening, processes_using

pytestmark = pytest.mark.server

DURATION = 50
"""Real seconds of fleet time after the demo says it runs: 25 simulated minutes at speed 30.
The scenario's first paper warning comes 6 simulated minutes in, that roll runs out about
13 minutes later: the fleet's first failed payment from a fault (the scenario has no random
faults), 6 simulated minutes (12 real seconds) before the end."""


def instant(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class DemoRun:
    """``posfleet demo`` as a subprocess whose output is read while it runs."""

    def __init__(self, data: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "posfleet", "--log-level", "warning", "demo",
             "--data-dir", str(data), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self._selector.register(self.process.stdout, selectors.EVENT_READ)

    def read_until(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while not any(text in line for line in self.lines):
            left = deadline - time.monotonic()
            if left <= 0 or (self.process.poll() is not None and not self._selector.select(0)):
                pytest.fail(f"no {text!r} in the demo's output:\n" + "".join(self.lines))
            if self._selector.select(min(left, 1.0)):
                line = self.process.stdout.readline()
                if line:
                    self.lines.append(line)

    def url(self, label: str) -> str:
        for line in self.lines:
            match = re.match(rf"\s+{re.escape(label)}\s+(\w+://\S+)", line)
            if match:
                return match.group(1)
        pytest.fail(f"no {label} URL in the demo's output:\n" + "".join(self.lines))

    def finish(self, timeout: float) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=timeout)
        self._selector.close()
        return self.process.returncode, "".join(self.lines) + out, err


def _get(url: str) -> Any:
    status, body = http_request("GET", url)
    assert status == 200, f"GET {url} -> {status}: {body[:200]!r}"
    return json.loads(body)


def test_demo_runs_the_whole_chain_tickets_come_first_and_nothing_stays_up(
    tmp_path: Path,
) -> None:
    data = tmp_path / "demo"
    run = DemoRun(data, "--duration", str(DURATION))
    try:
        run.read_until("running; Ctrl-C stops everything", timeout=180)
        state = json.loads((data / STATE_FILE).read_text())
        pids = [entry["pid"] for entry in state["services"]]
        addresses = [entry["address"] for entry in state["services"]]
        names = {entry["name"] for entry in state["services"]}
        assert {"mosquitto", "influxdb", "prometheus", "alertmanager", "tickets"} <= names
        assert alive(pids) == pids
        influx = run.url("InfluxDB")
        prometheus = run.url("Prometheus").removesuffix("/alerts")
        for label in ("Alertmanager", "tickets API", "MQTT broker", "ingest", "collector"):
            run.url(label)
        if "web" in names:
            web = run.url("web")
            status, _ = http_request("GET", f"{web.rstrip('/')}/healthz")
            assert status == 200
            assert any("login" in line and "merchant-m-01 /" in line for line in run.lines)
        # Data flows while it runs: InfluxDB gets points through the MQTT uplink and ingest,
        # Prometheus scrapes terminal series from both the collector and ingest.
        deadline = time.monotonic() + 40
        points = 0
        while time.monotonic() < deadline and not points:
            time.sleep(2)
            select = quote("SELECT count(*) FROM posfleet_terminal")
            answer = _get(f"{influx}/query?db=posfleet&q={select}")
            series = answer["results"][0].get("series")
            points = max(series[0]["values"][0][1:]) if series else 0
        assert points > 0, "status points in InfluxDB"
        wanted = {"posfleet-collector": 150, "posfleet-ingest": 150}
        counts: dict[str, int] = {}
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and counts != wanted:
            scraped = _get(
                f"{prometheus}/api/v1/query?query="
                + quote("count by (job) (posfleet_terminal_up)")
            )["data"]["result"]
            counts = {r["metric"]["job"]: int(r["value"][1]) for r in scraped}
            time.sleep(1)
        assert counts == wanted, "every terminal scraped from the collector and from ingest"
        code, output, errors = run.finish(timeout=DURATION + 90)
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
    assert code == 0, errors
    assert "Traceback" not in errors
    assert "demo stopped" in output
    summaries = [line for line in output.splitlines() if line.startswith("sim ")]
    assert summaries, output
    assert "150 online" in summaries[-1]

    # Nothing left: not by pid, not by port, not by command line.
    assert alive(pids) == []
    assert listening(addresses) == []
    assert processes_using(data) == []
    assert not (data / STATE_FILE).exists()

    # A ticket opened before the first failed payment its fault caused (ground truth).
    summary = json.loads((data / "summary.json").read_text())
    time_map = summary["time_map"]

    def simulated(wall: float) -> float:
        return float(time_map["simulated"] + (wall - time_map["wall"]) * time_map["speed"])

    truth = [json.loads(line) for line in (data / "ground-truth.jsonl").read_text().splitlines()]
    failures = [
        line for line in truth if line["type"] == "failed_transaction" and line["fault_kind"]
    ]
    first_failure: dict[tuple[str, str], float] = {}
    for line in failures:
        key = (line["terminal_id"], line["fault_kind"])
        first_failure[key] = min(first_failure.get(key, float("inf")),
                                 instant(line["occurred_at"]))
    warned = [
        (ticket, kind, first_failure[(ticket["terminal"], kind)])
        for ticket in summary["tickets"]
        if ticket["component"] == "printer"
        for kind in ("paper_out",)
        if (ticket["terminal"], kind) in first_failure
        and simulated(instant(ticket["opened_at"])) < first_failure[(ticket["terminal"], kind)]
    ]
    assert warned, (
        "no ticket opened before the first failed payment of its terminal's paper fault; "
        f"tickets: {summary['tickets']}"
    )
    # The test, literally: a ticket opened before the fleet's first failed payment
    # caused by a fault. The demo scenario has no random faults (spontaneous_faults: false):
    # every fault is scheduled or follows from the terminals' state.
    unscripted = {
        line["kind"] for line in truth if line["type"] == "fault" and not line["scripted"]
    }
    assert unscripted <= {"paper_out", "paper_low", "battery_low", "battery_worn",
                          "sim_quota_exhausted", "certificate_expired"}, unscripted
    first_fault_failure = min(instant(line["occurred_at"]) for line in failures)
    first_ticket = min(simulated(instant(ticket["opened_at"])) for ticket in summary["tickets"])
    assert first_ticket < first_fault_failure, (
        f"first ticket at simulated {first_ticket}, first failed payment from a fault at "
        f"{first_fault_failure}; tickets: {summary['tickets']}"
    )
    assert summary["failures_after_ticket"] > 0
    assert re.search(r"prevented [1-9]", summaries[-1]), summaries[-1]


def test_demo_names_a_server_that_cannot_start_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    data = tmp_path / "demo"
    env = fake_server_on_path(tmp_path / "bin", "mosquitto", "Error: Unable to open log file")
    result = subprocess.run(
        [sys.executable, "-m", "posfleet", "demo", "--data-dir", str(data), "--no-web"],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "mosquitto did not start" in result.stderr
    assert "Unable to open log file" in result.stderr, "the end of its log"
    assert "demo stopped" in result.stdout
    assert processes_using(data) == []


def test_demo_with_a_broken_scenario_file_says_why(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yml"
    scenario.write_text("fleet: {terminals: -1}\n")
    result = subprocess.run(
        [sys.executable, "-m", "posfleet", "demo", "--scenario", str(scenario)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "fleet.terminals" in result.stderr
