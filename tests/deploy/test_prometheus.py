"""Prometheus configurations in deploy/prometheus: promtool accepts each (the agent example in
agent mode, the target file examples included), and a real Prometheus running the edge job of
central.yml scrapes collectors the way its comments promise: terminal series keep their own
store, self-metrics get the target file's store and region, instance is the collector id,
targets in maintenance or without a region are skipped, and sample_limit stops a flood.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.net import LOOPBACK
from tests.fixtures.servers import PrometheusFactory

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
TARGET_DIRS = {
    "/etc/prometheus/posfleet/collectors/*.yml": PROMETHEUS / "targets" / "collectors.example.yml",
    "/etc/prometheus/posfleet/ingest/*.yml": PROMETHEUS / "targets" / "ingest.example.yml",
}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", "check", "config", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def _with_example_targets(config: Path, folder: Path) -> Path:
    """The config with its file_sd globs pointing at the example target files."""
    text = config.read_text()
    for installed, example in TARGET_DIRS.items():
        text = text.replace(installed, str(example))
    path = folder / config.name
    path.write_text(text)
    return path


def test_the_repository_config_stays_valid() -> None:
    result = _promtool(str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_central_config_and_its_target_files_are_valid(tmp_path: Path) -> None:
    result = _promtool(str(_with_example_targets(PROMETHEUS / "central.yml", tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_agent_config_is_valid_in_agent_mode(tmp_path: Path) -> None:
    config = _with_example_targets(PROMETHEUS / "agent.yml", tmp_path)
    result = _promtool("--agent", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    # Agent mode forbids rules and alerting: the file really is an agent configuration.
    assert not {"rule_files", "alerting"} & set(yaml.safe_load(config.read_text()))


def test_promtool_rejects_a_broken_target_file(tmp_path: Path) -> None:
    """The validity checks above would see a mistake in a target file."""
    bad = tmp_path / "bad.yml"
    bad.write_text('- targets: ["edge:9464"]\n  lables: {region: de-east}\n')
    text = (PROMETHEUS / "central.yml").read_text()
    config = tmp_path / "central.yml"
    config.write_text(text.replace("/etc/prometheus/posfleet/collectors/*.yml", str(bad)))
    assert _promtool(str(config)).returncode != 0


def test_remote_write_keeps_the_fleet_series() -> None:
    central = yaml.safe_load((PROMETHEUS / "central.yml").read_text())
    (mimir,) = central["remote_write"]
    assert mimir["url"].endswith("/api/v1/push")
    assert mimir["queue_config"]["max_samples_per_send"] <= mimir["queue_config"]["capacity"]
    (keep,) = mimir["write_relabel_configs"]
    assert "posfleet_.*" in keep["regex"]
    assert keep["action"] == "keep"
    (victoria,) = yaml.safe_load((PROMETHEUS / "agent.yml").read_text())["remote_write"]
    assert victoria["url"].endswith("/api/v1/write")


# --- a real Prometheus scraping fake collectors ---------------------------------------------

TERMINAL = (
    'posfleet_terminal_up{terminal="T-0001",store="S-009",merchant="acme",region="de-east"} 1'
)
SELF = 'posfleet_collector_terminals{state="online"} 1'


class _Collectors:
    """Loopback HTTP servers answering /metrics like edge collectors."""

    def __init__(self) -> None:
        self._servers: list[ThreadingHTTPServer] = []

    def serve(self, body: str) -> str:
        payload = body.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._servers.append(server)
        return f"{LOOPBACK}:{server.server_address[1]}"

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def collectors() -> Iterator[_Collectors]:
    fakes = _Collectors()
    yield fakes
    fakes.close()


def _wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.25)


def test_edge_job_labels_and_limits_collectors(
    prometheus_factory: PrometheusFactory, collectors: _Collectors, tmp_path: Path
) -> None:
    normal = collectors.serve(f"{TERMINAL}\n{SELF}\n")
    flood = collectors.serve(
        "".join(f'posfleet_terminal_up{{terminal="T{i}"}} 1\n' for i in range(20_001))
    )
    resting = collectors.serve(f"{SELF}\n")
    unlabelled = collectors.serve(f"{SELF}\n")
    targets = tmp_path / "collectors.yml"
    targets.write_text(yaml.safe_dump([
        {"targets": [normal], "labels": {"collector": "edge-s-001", "store": "S-001",
                                         "region": "de-east"}},
        {"targets": [flood], "labels": {"collector": "edge-big", "region": "de-east"}},
        {"targets": [resting], "labels": {"collector": "edge-s-104", "region": "de-east",
                                          "maintenance": "true"}},
        {"targets": [unlabelled], "labels": {"collector": "edge-nowhere"}},
    ]))
    central = yaml.safe_load((PROMETHEUS / "central.yml").read_text())
    (job,) = [j for j in central["scrape_configs"] if j["job_name"] == "posfleet-collector"]
    job["file_sd_configs"] = [{"files": [str(targets)], "refresh_interval": "1s"}]
    job["scrape_interval"] = "1s"
    job["scrape_timeout"] = "1s"
    prometheus = prometheus_factory(scrape_configs=[job])

    ups = _wait_for(lambda: len(prometheus.query("up")) == 2 and prometheus.query("up"))
    assert ups, f"expected 2 targets: {prometheus.query('up')}\n{prometheus.log_tail()}"
    by_instance = {s["metric"]["instance"]: s for s in ups}
    assert set(by_instance) == {"edge-s-001", "edge-big"}  # maintenance, no region: skipped
    assert by_instance["edge-s-001"]["value"][1] == "1"
    assert by_instance["edge-big"]["value"][1] == "0", "sample_limit must fail the scrape"
    assert by_instance["edge-s-001"]["metric"]["region"] == "de-east"

    (terminal,) = _wait_for(lambda: prometheus.query("posfleet_terminal_up"))
    assert terminal["metric"]["store"] == "S-009", "a terminal keeps its own store"
    assert terminal["metric"]["instance"] == "edge-s-001"
    assert "exported_store" not in terminal["metric"]
    (own,) = prometheus.query("posfleet_collector_terminals")
    assert own["metric"]["store"] == "S-001"
    assert own["metric"]["region"] == "de-east"
    assert "collector" not in own["metric"]
    assert "maintenance" not in own["metric"]
