"""The command line as a user types it: a real process, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import posfleet

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "deploy" / "fleet.example.yml"


def posfleet_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "posfleet", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_help_lists_the_commands() -> None:
    result = posfleet_cli("--help")
    assert result.returncode == 0
    for command in ("config", "demo", "schema"):
        assert command in result.stdout


def test_version() -> None:
    result = posfleet_cli("--version")
    assert result.returncode == 0
    assert posfleet.__version__ in result.stdout


def test_config_check_accepts_the_example() -> None:
    result = posfleet_cli("config", "check", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "4 terminals" in result.stdout


def test_config_check_rejects_a_broken_file_with_exit_2_and_no_traceback(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "fleet.yml"
    broken.write_text(
        "merchants: [{id: acme, name: A}]\n"
        "stores:\n"
        "  - {id: S-1, merchant: acme, name: x, region: r,\n"
        "     terminals: [{id: T-1, driver: escpso}]}\n"
    )
    result = posfleet_cli("config", "check", str(broken))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert (
        f"{broken}:4: stores[0].terminals[0].driver: unknown driver 'escpso' "
        "(known: escpos, http, mqtt)"
    ) in result.stderr
    assert "1 problem found" in result.stderr


def test_config_check_on_a_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    result = posfleet_cli("config", "check", str(tmp_path / "nope.yml"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "cannot read the file" in result.stderr


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    code = (
        "import logging; from posfleet.logs import configure_logging; "
        "configure_logging('json'); logging.getLogger('posfleet.test').warning("
        "'paper low', extra={'terminal_id': 'T-1'})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    entry = json.loads(result.stderr.strip())
    assert entry["message"] == "paper low"
    assert entry["level"] == "warning"
    assert entry["terminal_id"] == "T-1"


def test_log_format_flag_is_accepted() -> None:
    result = posfleet_cli("--log-format", "json", "config", "check", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
