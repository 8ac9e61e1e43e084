"""``posfleet dashboards push`` against a fake Grafana.

Grafana itself cannot run here: these tests use the recorded-contract fake in
``fake_grafana.py`` (requests and answers as Grafana 10's HTTP API documents them), with the
real grafana-client and the real command line.
"""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from posfleet.cli import cli
from posfleet.dashboards.build import dashboards
from tests.dashboards.fake_grafana import fake_grafana

TOKEN = "glsa_test_token"
SOURCES = ["--datasource-url", "prometheus=http://prometheus:9090",
           "--datasource-url", "influxdb=http://influxdb:8086"]


def _push(url: str, token: str, *extra: str, env: dict[str, str] | None = None
          ) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["dashboards", "push", "--url", url, "--token", token, *extra], env=env
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_push_creates_datasources_folder_and_dashboards_then_updates_them() -> None:
    with fake_grafana(TOKEN) as grafana:
        code, output = _push(grafana.url, TOKEN, *SOURCES,
                             env={"POSFLEET_INFLUXDB__PASSWORD": "influx-secret"})
        assert code == 0, output
        assert "pushed 5 dashboards and 2 data sources to Grafana 10.4.2" in output
        assert set(grafana.datasources) == {"posfleet-prometheus", "posfleet-influxdb"}
        influx = grafana.datasources["posfleet-influxdb"]
        assert influx["url"] == "http://influxdb:8086"
        assert influx["secureJsonData"] == {"password": "influx-secret"}
        assert influx["jsonData"]["version"] == "InfluxQL"
        assert grafana.datasources["posfleet-prometheus"]["url"] == "http://prometheus:9090"
        assert set(grafana.folders) == {"posfleet"}
        expected = {model["uid"]: model for model in dashboards()}
        assert set(grafana.dashboards) == set(expected)
        for uid, saved in grafana.dashboards.items():
            assert saved["folderUid"] == "posfleet"
            assert saved["dashboard"] == {**expected[uid], "id": None}
        first = [(method, path) for method, path, _ in grafana.requests]
        assert first.count(("POST", "/api/datasources")) == 2
        assert first.count(("POST", "/api/folders")) == 1

        grafana.requests.clear()
        code, output = _push(grafana.url, TOKEN, *SOURCES)
        assert code == 0, output
        again = [(method, path) for method, path, _ in grafana.requests]
        assert ("POST", "/api/datasources") not in again
        assert ("PUT", "/api/datasources/uid/posfleet-influxdb") in again
        assert ("POST", "/api/folders") not in again
        assert all(saved["version"] == 2 for saved in grafana.dashboards.values())
        bodies = [body for method, path, body in grafana.requests
                  if path == "/api/dashboards/db"]
        assert len(bodies) == 5
        assert all(body["overwrite"] is True for body in bodies)


def test_push_without_datasource_urls_pushes_only_dashboards() -> None:
    with fake_grafana(TOKEN) as grafana:
        code, output = _push(grafana.url, TOKEN)
        assert code == 0, output
        assert grafana.datasources == {}
        assert len(grafana.dashboards) == 5


def test_a_wrong_token_is_a_clear_error() -> None:
    with fake_grafana(TOKEN) as grafana:
        code, output = _push(grafana.url, "wrong-token", *SOURCES)
    assert code == 1
    assert "Grafana refused the token (401 Unauthorized)" in output
    assert grafana.dashboards == {}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("grafana:3000", "give Grafana's base URL"),
        (f"http://127.0.0.1:{_closed_port()}", "cannot reach Grafana"),
    ],
)
def test_a_bad_url_is_a_clear_error(url: str, message: str) -> None:
    code, output = _push(url, TOKEN, "--timeout", "3")
    assert code == 1
    assert message in output


def test_a_bad_datasource_url_is_refused_before_anything_is_sent() -> None:
    with fake_grafana(TOKEN) as grafana:
        code, output = _push(grafana.url, TOKEN, "--datasource-url", "loki=http://x")
    assert code == 2
    assert "expected prometheus=URL or influxdb=URL" in output
    assert grafana.requests == []
