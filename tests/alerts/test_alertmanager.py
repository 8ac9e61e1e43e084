"""deploy/alertmanager/alertmanager.yml: amtool accepts it, routes go to the right teams, and a
real Alertmanager delivers a technician's alert to the ticket bridge grouped by store, with
the bearer token, while an inhibited paper warning reaches nobody.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.net import LOOPBACK, http_json, wait_until
from tests.fixtures.servers import AlertmanagerFactory

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"
TOKEN = "test-bridge-token"
STORE = {"store": "S-012", "merchant": "acme", "region": "eu-west"}


@dataclass
class Delivery:
    receiver: str
    authorization: str | None
    body: dict[str, Any]

    @property
    def alertnames(self) -> set[str]:
        return {alert["labels"]["alertname"] for alert in self.body["alerts"]}


@dataclass
class Receivers:
    """A local HTTP server standing in for every receiver (one path per receiver)."""

    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, receiver: str) -> list[Delivery]:
        with self.lock:
            return [delivery for delivery in self.deliveries if delivery.receiver == receiver]

    def alertnames(self) -> set[str]:
        with self.lock:
            return {name for delivery in self.deliveries for name in delivery.alertnames}


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    handler_state: list[Receivers] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            state = handler_state[0]
            with state.lock:
                state.deliveries.append(
                    Delivery(self.path.strip("/"), self.headers.get("Authorization"), body)
                )
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    handler_state.append(Receivers(f"http://{LOOPBACK}:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler_state[0]
    finally:
        server.shutdown()
        server.server_close()


def _fast(route: dict[str, Any]) -> None:
    for key in ("group_wait", "group_interval"):
        if key in route:
            route[key] = "1s"
    for child in route.get("routes", []):
        _fast(child)


def _local_config(receivers: Receivers, token_file: Path) -> dict[str, Any]:
    """The deployed config with every receiver pointed at the local server, short waits, and
    no outside services (mail, WeCom, Slack), keeping routes and inhibitions as they are."""
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    config["global"] = {"resolve_timeout": "5m"}
    config.pop("templates", None)
    for receiver in config["receivers"]:
        webhook: dict[str, Any] = {"url": f"{receivers.url}/{receiver['name']}"}
        if receiver["name"] == "ticket-bridge":
            (original,) = receiver["webhook_configs"]
            webhook["http_config"] = original["http_config"]
            webhook["http_config"]["authorization"]["credentials_file"] = str(token_file)
        receiver.clear()
        receiver.update(name=webhook["url"].rsplit("/", 1)[1], webhook_configs=[webhook])
    config["route"]["group_wait"] = "1s"
    _fast(config["route"])
    return config


def _alert(name: str, terminal: str, severity: str, team: str) -> dict[str, Any]:
    labels = {
        "alertname": name,
        "severity": severity,
        "team": team,
        "component": "printer",
        "terminal": terminal,
        **STORE,
    }
    return {
        "labels": labels,
        "annotations": {"summary": f"Store S-012, terminal {terminal}: {name}"},
        "startsAt": datetime.now(UTC).isoformat(),
    }


def test_amtool_accepts_the_config() -> None:
    result = subprocess.run(
        ["amtool", "check-config", str(CONFIG)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (
            {"team": "technician", "region": "eu-west", "severity": "warning"},
            "ticket-bridge,technicians-email",
        ),
        (
            {"team": "technician", "region": "apac", "severity": "warning"},
            "ticket-bridge,technicians-apac-wecom",
        ),
        ({"team": "merchant", "severity": "warning"}, "ticket-bridge,merchant-wecom"),
        ({"team": "merchant", "severity": "info"}, "ticket-bridge,merchant-email"),
        ({"team": "it", "severity": "critical"}, "ticket-bridge,it-chat"),
        ({"alertname": "Watchdog"}, "ticket-bridge"),
    ],
)
def test_alerts_reach_the_team_that_acts_and_always_the_bridge(
    labels: dict[str, str], expected: str
) -> None:
    result = subprocess.run(
        [
            "amtool",
            "config",
            "routes",
            "test",
            f"--config.file={CONFIG}",
            *(f"{name}={value}" for name, value in labels.items()),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == expected, result.stderr


def test_a_real_alertmanager_tickets_by_store_and_inhibits_paper_warnings(
    alertmanager_factory: AlertmanagerFactory, receivers: Receivers, tmp_path: Path
) -> None:
    token_file = tmp_path / "bridge-token"
    token_file.write_text(TOKEN)
    manager = alertmanager_factory(config=yaml.safe_dump(_local_config(receivers, token_file)))
    http_json(
        "POST",
        f"{manager.url}/api/v2/alerts",
        [
            _alert("PrinterCutterFailing", "T-0451", "warning", "technician"),
            _alert("PrinterPaperOut", "T-0452", "critical", "merchant"),
            _alert("PrinterPaperNearEnd", "T-0452", "info", "merchant"),
        ],
    )

    def bridge_has_both() -> list[Delivery] | None:
        deliveries = receivers.received("ticket-bridge")
        seen = {name for delivery in deliveries for name in delivery.alertnames}
        return deliveries if {"PrinterCutterFailing", "PrinterPaperOut"} <= seen else None

    deliveries = wait_until(bridge_has_both, timeout=20, message="alerts at the bridge")
    assert {delivery.authorization for delivery in deliveries} == {f"Bearer {TOKEN}"}
    assert all(
        delivery.body["groupLabels"] == {"region": "eu-west", "store": "S-012"}
        for delivery in deliveries
    )
    technicians = wait_until(
        lambda: receivers.received("technicians-email") or None, message="technicians' e-mail"
    )
    assert technicians[0].alertnames == {"PrinterCutterFailing"}

    inhibited = wait_until(
        lambda: (
            [
                alert
                for alert in http_json("GET", f"{manager.url}/api/v2/alerts")
                if alert["labels"]["alertname"] == "PrinterPaperNearEnd"
                and alert["status"]["inhibitedBy"]
            ]
            or None
        ),
        message="near-end inhibited by paper out",
    )
    assert len(inhibited) == 1
    assert "PrinterPaperNearEnd" not in receivers.alertnames()
