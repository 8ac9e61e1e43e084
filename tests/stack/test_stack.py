"""``posfleet stack up|status|down``: the central services for real collectors, detached.

Everything is real: the stack's Mosquitto, InfluxDB 1.6, Prometheus, Alertmanager, ticket
bridge, ingest (and the web app when present) on free loopback ports under a temp
directory; a simulated fleet (``posfleet simulate``) polled by ``posfleet collect``, which
uplinks over MQTT to the stack and is scraped by the stack's Prometheus.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote

import pytest
import yaml

from posfleet.stack.net import LOOPBACK, free_port
from posfleet.stack.stack import (
    STATE_FILE,
    StackError,
    StackPlan,
    check_interval,
    down,
    parse_listen,
)
from posfleet.stack.stack import up as stack_up
from tests.fixtures.net import http_request
from tests.stack.support import (
    POSFLEET,
    alive,
    fake_server_on_path,
    free_listen,
    listen_args,
    listening,
    posfleet,
    processes_using,
)

pytestmark = pytest.mark.server

T = TypeVar("T")
SIM_TOKEN = "stack-test-simulator-token"


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:g} s")
        time.sleep(0.5)


def get_json(url: str) -> Any:
    status, body = http_request("GET", url)
    return json.loads(body) if status == 200 else None


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class Fleet:
    """``posfleet simulate`` and ``posfleet collect`` as subprocesses."""

    def __init__(self, directory: Path, mqtt_url: str, collector_listen: str) -> None:
        self.directory = directory
        self.mqtt_url = mqtt_url
        self.collector_listen = collector_listen
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []

    def _log(self, name: str) -> IO[bytes]:
        handle = (self.directory / name).open("wb")
        self.logs.append(handle)
        return handle

    def start(self) -> None:
        fleet_file = self.directory / "fleet.yml"
        env = {**os.environ, "POSFLEET_SIM_TOKEN": SIM_TOKEN}
        self.processes.append(
            subprocess.Popen(
                [*POSFLEET, "simulate", "--terminals", "8", "--stores", "2", "--merchants", "1",
                 "--speed", "10", "--http-share", "1", "--mqtt-share", "0", "--escpos-share",
                 "0", "--http-listen", f"{LOOPBACK}:{free_port()}", "--write-config",
                 str(fleet_file)],
                stdout=self._log("simulate.log"),
                stderr=subprocess.STDOUT,
                env=env,
            )
        )
        wait_for("the simulator's fleet file", fleet_file.exists, 60)
        config = yaml.safe_load(wait_for("fleet file content", fleet_file.read_text))
        config["collector"] = {
            "id": "edge-stack-test",
            "interval_seconds": 1.0,
            "listen": self.collector_listen,
        }
        config["uplink"] = {"url": self.mqtt_url}
        config["buffer"] = {"directory": str(self.directory / "buffer")}
        collector_file = self.directory / "collector.yml"
        collector_file.write_text(yaml.safe_dump(config))
        self.processes.append(
            subprocess.Popen(
                [*POSFLEET, "collect", "-c", str(collector_file)],
                stdout=self._log("collect.log"),
                stderr=subprocess.STDOUT,
                env=env,
            )
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            _stop(process)
        for handle in self.logs:
            handle.close()


@pytest.fixture
def stack_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "stack"
    yield directory
    # Whatever a test left running: stop it (the assertions already judged it).
    down(directory, lambda _line: None, timeout=5)


def test_stack_up_takes_a_collectors_data_and_down_leaves_nothing_running(
    tmp_path: Path, stack_dir: Path
) -> None:
    listen = free_listen()
    collector_listen = f"{LOOPBACK}:{free_port()}"
    # The edge starts first (its uplink keeps what it collects until the broker is there),
    # which also saves the test the start-up time of two Python processes.
    fleet = Fleet(tmp_path, f"mqtt://{listen['mosquitto']}", collector_listen)
    try:
        _up_collect_and_check(listen, collector_listen, stack_dir, fleet)
    finally:
        fleet.stop()


def _up_collect_and_check(
    listen: dict[str, str], collector_listen: str, stack_dir: Path, fleet: Fleet
) -> None:
    fleet.start()
    up = posfleet(
        "stack", "up", "--dir", str(stack_dir), *listen_args(listen),
        "--influxdb-rpc-port", str(free_port()), "--collector", collector_listen,
        "--scrape-interval", "2s", timeout=180,
    )
    assert up.returncode == 0, up.stdout + up.stderr
    assert "Traceback" not in up.stderr
    state = json.loads((stack_dir / STATE_FILE).read_text())
    services = {entry["name"]: entry for entry in state["services"]}
    expected = {"mosquitto", "influxdb", "prometheus", "alertmanager", "tickets", "ingest"}
    assert expected <= set(services), services
    for name in services:
        assert listen[name].split(":")[1] in up.stdout, f"{name}'s address is printed"
    pids = [entry["pid"] for entry in services.values()]
    assert alive(pids) == pids, "up returned; the services keep running detached"
    for name in services:
        assert (stack_dir / name / f"{name}.log").is_file(), f"{name} logs under the dir"

    with pytest.raises(StackError, match=r"already running \(mosquitto, influxdb"):
        stack_up(StackPlan(directory=stack_dir), lambda _line: None)

    status = posfleet("stack", "status", "--dir", str(stack_dir))
    assert status.returncode == 0, status.stdout + status.stderr
    for name in services:
        row = next(line for line in status.stdout.splitlines() if line.startswith(name))
        assert "running" in row, row
        assert row.rstrip().endswith("ok"), row

    try:
        ingest = f"http://{listen['ingest']}/metrics"
        wait_for(
            "ingest accepting the collector's snapshots",
            lambda: 'posfleet_ingest_messages_accepted_total{kind="status"}'
            in http_request("GET", ingest)[1].decode()
            and "posfleet_terminal_up{" in http_request("GET", ingest)[1].decode(),
        )
        influx = f"http://{listen['influxdb']}"

        def influx_points() -> int:
            answer = get_json(f"{influx}/query?db=posfleet&q={quote('SHOW MEASUREMENTS')}")
            series = (answer or {}).get("results", [{}])[0].get("series")
            if not series:
                return 0
            measurement = series[0]["values"][0][0]
            select = quote(f'SELECT count(*) FROM "{measurement}"')
            counted = get_json(f"{influx}/query?db=posfleet&q={select}")
            rows = counted["results"][0].get("series", [{}])[0].get("values", [[0, 0]])
            return int(max(v for v in rows[0][1:] if isinstance(v, int | float)))

        assert wait_for("points in the stack's InfluxDB", influx_points) > 0
        prometheus = f"http://{listen['prometheus']}"

        def prometheus_sees(query: str) -> list[Any]:
            answer = get_json(f"{prometheus}/api/v1/query?query={quote(query)}")
            return list((answer or {}).get("data", {}).get("result", []))

        terminals = wait_for(
            "terminal series scraped from ingest",
            lambda: prometheus_sees('posfleet_terminal_up{job="posfleet-ingest"}'),
        )
        assert len(terminals) == 8
        wait_for(
            "the collector scraped",
            lambda: prometheus_sees('up{job="posfleet-collector"} == 1'),
        )
    finally:
        fleet.stop()

    down = posfleet("stack", "down", "--dir", str(stack_dir))
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stack stopped" in down.stdout
    assert alive(pids) == [], "every service stopped"
    assert listening(listen[name] for name in services) == []
    assert processes_using(stack_dir) == []
    assert not (stack_dir / STATE_FILE).exists()
    again = posfleet("stack", "status", "--dir", str(stack_dir))
    assert again.returncode == 1
    assert "no stack is running" in again.stdout


def test_a_server_that_cannot_start_is_named_with_its_log_and_nothing_stays_up(
    tmp_path: Path, stack_dir: Path
) -> None:
    env = fake_server_on_path(
        tmp_path / "bin", "influxd", "run: open server: open tsdb store: permission denied"
    )
    listen = free_listen()
    up = posfleet(
        "stack", "up", "--dir", str(stack_dir), *listen_args(listen),
        "--influxdb-rpc-port", str(free_port()), env=env, timeout=180,
    )
    assert up.returncode == 1
    assert "Traceback" not in up.stderr
    assert "influxdb did not start" in up.stderr
    assert "open tsdb store: permission denied" in up.stderr, "the end of its log is shown"
    assert "influxdb.log" in up.stderr
    state = json.loads((stack_dir / STATE_FILE).read_text())
    pids = [entry["pid"] for entry in state["services"]]
    assert [entry["name"] for entry in state["services"]] == ["mosquitto"], (
        "Mosquitto, started beside it, is recorded"
    )
    assert alive(pids) == [], "and was stopped again"
    assert listening(listen.values()) == []
    assert processes_using(stack_dir) == []


def test_an_address_in_use_is_refused_before_anything_starts(stack_dir: Path) -> None:
    listen = free_listen()
    host, port = listen["mosquitto"].split(":")
    with socket.socket() as taken:
        taken.bind((host, int(port)))
        taken.listen()
        up = posfleet("stack", "up", "--dir", str(stack_dir), *listen_args(listen))
    assert up.returncode == 2
    assert f"mosquitto: {host}:{port} is already in use" in up.stderr
    assert processes_using(stack_dir) == []


def test_bad_listen_flags_name_the_service_and_the_problem() -> None:
    with pytest.raises(StackError, match=r"--listen prometheus: '9090' is not host:port"):
        parse_listen(["prometheus=9090"])
    with pytest.raises(StackError, match=r"SERVICE=HOST:PORT with SERVICE one of mosquitto"):
        parse_listen(["grafana=127.0.0.1:3000"])
    listen = parse_listen(["prometheus=0.0.0.0:19090"])
    assert listen["prometheus"] == "0.0.0.0:19090"
    assert listen["mosquitto"] == "127.0.0.1:1883", "the others keep their defaults"
    with pytest.raises(StackError, match=r"--scrape-interval: '15' is not a duration"):
        check_interval("15")
    assert check_interval("1m30s") == "1m30s"
