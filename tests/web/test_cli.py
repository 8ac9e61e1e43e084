"""``posfleet web``: users from the command line, the OpenAPI document, and serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from posfleet.cli import cli
from posfleet.web.accounts import AccountStore
from posfleet.web.openapi import openapi_text
from tests.fixtures.net import free_port, http_request
from tests.web.support import BRIDGE_TOKEN, FLEET_YAML


def write_config(root: Path) -> Path:
    path = root / "fleet.yml"
    path.write_text(FLEET_YAML.format(root=root, tickets_url="http://127.0.0.1:9",
                                      token=BRIDGE_TOKEN), encoding="utf-8")
    return path


def test_the_first_admin_is_created_with_a_generated_password_that_works(tmp_path: Path) -> None:
    config = write_config(tmp_path)

    result = CliRunner().invoke(
        cli, ["web", "user", "add", "-c", str(config), "--username", "admin", "--role", "it"]
    )

    assert result.exit_code == 0, result.output
    password = result.output.split("password: ", 1)[1].strip()
    store = AccountStore.open(str(tmp_path / "status.sqlite3"))
    try:
        user = store.authenticate("admin", password)
    finally:
        store.dispose()
    assert user is not None
    assert user.is_it


def test_a_merchant_user_reads_its_password_from_stdin_and_is_listed(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    runner = CliRunner()

    added = runner.invoke(
        cli,
        ["web", "user", "add", "-c", str(config), "--username", "shop", "--role", "merchant",
         "--merchant", "M-A", "--password-stdin"],
        input="a-long-shop-password\n",
    )
    listed = runner.invoke(cli, ["web", "user", "list", "-c", str(config)])

    assert added.exit_code == 0, added.output
    assert "password:" not in added.output
    assert listed.output.strip() == "shop\tmerchant\tM-A"


def test_bad_users_are_refused_with_the_option_named(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    runner = CliRunner()
    base = ["web", "user", "add", "-c", str(config)]

    unknown = runner.invoke(cli, [*base, "--username", "x", "--role", "merchant",
                                  "--merchant", "M-Z"])
    missing = runner.invoke(cli, [*base, "--username", "x", "--role", "merchant"])
    runner.invoke(cli, [*base, "--username", "dup", "--role", "it"])
    duplicate = runner.invoke(cli, [*base, "--username", "dup", "--role", "it"])

    assert unknown.exit_code == 2
    assert "--merchant: 'M-Z' is not a merchant of the fleet" in unknown.output
    assert missing.exit_code == 2
    assert "--merchant: a merchant user needs" in missing.output
    assert duplicate.exit_code == 2
    assert "--username: 'dup' exists already" in duplicate.output


def test_openapi_writes_the_published_document(tmp_path: Path) -> None:
    target = tmp_path / "web.openapi.json"

    result = CliRunner().invoke(cli, ["web", "openapi", str(target)])

    assert result.exit_code == 0
    assert target.read_text(encoding="utf-8") == openapi_text()


def test_serve_answers_until_sigterm_and_exits_cleanly(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    port = free_port()
    log = (tmp_path / "web.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "posfleet", "web", "serve", "-c", str(config),
         "--listen", f"127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, _ = http_request("GET", f"http://127.0.0.1:{port}/healthz", timeout=1)
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200, (tmp_path / "web.log").read_text()
        login_status, body = http_request("GET", f"http://127.0.0.1:{port}/login")
        assert login_status == 200
        assert b'<form method="post" action="/login"' in body
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
