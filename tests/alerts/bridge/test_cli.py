"""``posfleet tickets serve``: bad configuration exits 2 with a message, no traceback; a
good one serves until SIGTERM or Ctrl-C and then exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from posfleet.cli import cli
from tests.fixtures.net import LOOPBACK, free_port, http_request, wait_until


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        ("tickets: {close_grace_seconds: -1}\n", {},
         "tickets.close_grace_seconds: Input should be greater than or equal to 0"),
        ("tickets: {redmine: {url: ftp://x, project: p}}\n", {},
         "tickets.redmine.url: url must start with http:// or https://"),
        ("tickets: {listen: nowhere}\n", {"POSFLEET_TICKETS__BEARER_TOKENS": '["t"]'},
         "tickets.listen: 'nowhere' is not host:port"),
        ("tickets: {}\n", {}, "tickets: no credentials"),
        ("tickets: {database: 'mysql://x/y'}\n", {"POSFLEET_TICKETS__BEARER_TOKENS": '["t"]'},
         "tickets.database: 'mysql' is not supported"),
    ],
)
def test_a_bad_configuration_exits_2_naming_the_field(
    tmp_path: Path, config: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "fleet.yml"
    path.write_text(config)

    result = CliRunner().invoke(cli, ["tickets", "serve", "-c", str(path)], env=env)

    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_unreachable_database_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yml"
    path.write_text("tickets: {database: 'postgresql+psycopg://u:pw@127.0.0.1:9/none'}\n")

    result = CliRunner().invoke(
        cli, ["tickets", "serve", "-c", str(path)],
        env={
            "POSFLEET_TICKETS__BEARER_TOKENS": '["t"]',
            "POSFLEET_TICKETS__BUSY_TIMEOUT_SECONDS": "1",
        },
    )

    assert result.exit_code == 2
    assert "cannot open postgresql+psycopg://u:***@127.0.0.1:9/none" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_serve_answers_until_signalled_then_exits_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port = free_port()
    path = tmp_path / "fleet.yml"
    path.write_text(f"tickets: {{listen: '{LOOPBACK}:{port}', database: '{tmp_path}/t.db'}}\n")
    env = {**os.environ, "POSFLEET_TICKETS__BEARER_TOKENS": '["s3cret"]'}
    process = subprocess.Popen(
        [sys.executable, "-m", "posfleet", "tickets", "serve", "-c", str(path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        wait_until(
            lambda: http_request("GET", f"http://{LOOPBACK}:{port}/healthz")[0] == 200,
            timeout=20, message="posfleet tickets serve to answer /healthz",
        )
        status, _ = http_request("GET", f"http://{LOOPBACK}:{port}/api/v1/tickets")
        authorised, body = http_request(
            "GET", f"http://{LOOPBACK}:{port}/api/v1/tickets",
            headers={"Authorization": "Bearer s3cret"},
        )
        assert (status, authorised) == (401, 200)
        assert b'"count":0' in body
    finally:
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=15)
    assert process.returncode == 0, output.decode()
    assert b"Application shutdown complete" in output
    assert (tmp_path / "t.db").exists()
