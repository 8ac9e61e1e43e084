"""The systemd units in deploy/systemd: `systemd-analyze verify` accepts them without a single
warning, their hardening scores "OK" in `systemd-analyze security`, they run as the posfleet
user that the sysusers.d file creates, and the drop-ins load onto Debian's own units.

systemd is not PID 1 in this container, so nothing is started: verify and security work
offline on the files (the path of the posfleet executable is swapped for this checkout's).
"""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from posfleet.config.loader import load_config

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "deploy" / "systemd"
INSTALLED_EXE = "/opt/posfleet/bin/posfleet"
POSFLEET_EXE = Path(sys.executable).parent / "posfleet"
SERVICES = {
    "posfleet-collector.service": "collect",
    "posfleet-ingest@.service": "ingest",
    "posfleet-tickets.service": "tickets serve",
    "posfleet-web.service": "web serve",
}
DEBIAN_UNITS = Path("/lib/systemd/system")
MAX_EXPOSURE = 2.0
"""systemd-analyze security: below 2.0 is rated "OK" (the scale runs to 10, "UNSAFE")."""


def _analyze(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("systemd-analyze")
    assert exe, "systemd-analyze is missing (Debian package systemd)"
    return subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def _multi(path: Path, key: str) -> list[str]:
    """Every value of a key that may repeat (configparser keeps only the last)."""
    return [
        line.split("=", 1)[1]
        for line in path.read_text().splitlines()
        if line.startswith(f"{key}=")
    ]


@pytest.fixture(scope="module")
def units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The posfleet units in a scratch folder, pointing at this checkout's posfleet."""
    assert POSFLEET_EXE.is_file(), f"{POSFLEET_EXE} is missing: install posfleet in the venv"
    folder = tmp_path_factory.mktemp("units")
    for path in [*SYSTEMD.glob("*.service"), *SYSTEMD.glob("*.target")]:
        text = path.read_text().replace(INSTALLED_EXE, str(POSFLEET_EXE))
        (folder / path.name).write_text(text)
    # A template unit is verified through an instance of it.
    shutil.copy(folder / "posfleet-ingest@.service", folder / "posfleet-ingest@central1-a.service")
    return folder


def _instances(folder: Path) -> list[str]:
    return [
        "posfleet-ingest@central1-a.service" if name.endswith("@.service") else name
        for name in [*SERVICES, "posfleet-ingest.target"]
    ]


def test_every_service_is_listed() -> None:
    assert sorted(p.name for p in SYSTEMD.glob("*.service")) == sorted(SERVICES)


def test_units_verify_without_warnings(units: Path) -> None:
    result = _analyze("verify", "--man=no", *_instances(units), cwd=units)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_verify_catches_a_misspelt_option(units: Path) -> None:
    """The check above would see a typo: systemd only warns about unknown keys."""
    bad = units / "bad.service"
    bad.write_text((units / "posfleet-tickets.service").read_text().replace(
        "NoNewPrivileges=yes", "NoNewPrivilege=yes"
    ))
    result = _analyze("verify", "--man=no", "bad.service", cwd=units)
    assert "Unknown key 'NoNewPrivilege'" in result.stderr


@pytest.mark.parametrize("name", [n for n in SERVICES])
def test_hardening_scores_ok(units: Path, name: str) -> None:
    unit = name.replace("@.service", "@central1-a.service")
    result = _analyze("security", "--offline=true", "--no-pager", unit, cwd=units)
    last = result.stdout.strip().splitlines()[-1]
    assert "Overall exposure level" in last, result.stdout + result.stderr
    score = float(last.split(":")[1].split()[0])
    assert score < MAX_EXPOSURE, f"{name}: exposure {score} ({last})"


@pytest.mark.parametrize("name", [n for n in SERVICES])
def test_service_runs_posfleet_as_its_own_user(name: str) -> None:
    path = SYSTEMD / name
    service = _unit(path)["Service"]
    assert service["User"] == "posfleet"
    assert service["Restart"] == "on-failure"
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    assert service["StateDirectory"].startswith("posfleet")
    assert "/etc/posfleet/posfleet.env" in _multi(path, "EnvironmentFile")
    assert "@system-service" in _multi(path, "SystemCallFilter")
    exec_start = service["ExecStart"]
    assert exec_start.startswith(INSTALLED_EXE)
    assert f" {SERVICES[name]} -c /etc/posfleet/fleet.yml" in exec_start


def test_ingest_copies_differ_in_client_id_buffer_and_listen() -> None:
    path = SYSTEMD / "posfleet-ingest@.service"
    service = _unit(path)["Service"]
    assert service["ExecStart"].endswith("--client-id %i")
    assert "POSFLEET_BUFFER__DIRECTORY=/var/lib/posfleet/ingest/%i/buffer" in _multi(
        path, "Environment"
    )
    assert service["StateDirectory"] == "posfleet/ingest/%i"
    assert "/etc/posfleet/ingest-%i.env" in _multi(path, "EnvironmentFile")
    example = (SYSTEMD / "ingest-central1-a.env.example").read_text()
    assert "POSFLEET_INGEST__LISTEN=" in example


def test_collector_reaches_serial_ports_only() -> None:
    path = SYSTEMD / "posfleet-collector.service"
    service = _unit(path)["Service"]
    assert service["SupplementaryGroups"] == "dialout"
    assert service["DevicePolicy"] == "closed"
    assert set(_multi(path, "DeviceAllow")) == {
        "char-ttyS rw", "char-ttyUSB rw", "char-ttyACM rw"
    }
    # PrivateUsers= would map dialout to nobody and lock the collector out of its ports.
    assert "PrivateUsers" not in service


def test_sysusers_creates_the_posfleet_user(tmp_path: Path) -> None:
    exe = shutil.which("systemd-sysusers")
    assert exe, "systemd-sysusers is missing (Debian package systemd)"
    (tmp_path / "etc").mkdir()
    result = subprocess.run(
        [exe, f"--root={tmp_path}", str(SYSTEMD / "sysusers.d" / "posfleet.conf")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    passwd_lines = (tmp_path / "etc/passwd").read_text().splitlines()
    passwd = {line.split(":")[0]: line.split(":") for line in passwd_lines}
    assert passwd["posfleet"][5:] == ["/var/lib/posfleet", "/usr/sbin/nologin"]
    assert int(passwd["posfleet"][2]) < 1000, "a system user"
    group_lines = (tmp_path / "etc/group").read_text().splitlines()
    groups = {line.split(":")[0]: line for line in group_lines}
    assert groups["dialout"].endswith(":posfleet")


@pytest.mark.parametrize(
    "unit", ["prometheus", "prometheus-alertmanager", "influxdb", "mosquitto"]
)
def test_drop_ins_load_onto_debians_units(tmp_path: Path, unit: str) -> None:
    original = DEBIAN_UNITS / f"{unit}.service"
    assert original.is_file(), f"{original} is missing: install Debian's package"
    shutil.copy(original, tmp_path)
    shutil.copytree(SYSTEMD / "drop-ins" / f"{unit}.service.d", tmp_path / f"{unit}.service.d")
    result = _analyze("verify", "--man=no", f"{unit}.service", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
    # The drop-in is really applied: the merged unit is hardened.
    before = _analyze("security", "--offline=true", "--no-pager", str(original), cwd=tmp_path)
    after = _analyze("security", "--offline=true", "--no-pager", f"{unit}.service", cwd=tmp_path)

    def score(result: subprocess.CompletedProcess[str]) -> float:
        return float(result.stdout.strip().splitlines()[-1].split(":")[1].split()[0])

    assert score(after) <= score(before)
    if unit != "prometheus":  # Debian hardens Prometheus's unit already.
        assert score(after) < score(before) - 3, (score(before), score(after))


def test_env_file_example_gives_posfleet_its_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example EnvironmentFile= (shell-style quoting, as systemd reads it) configures
    posfleet: JSON lists stay JSON, every POSFLEET_ variable names a real setting."""
    for line in (SYSTEMD / "posfleet.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            (assignment,) = shlex.split(line)
            key, value = assignment.split("=", 1)
            monkeypatch.setenv(key, value)
    config_path = tmp_path / "fleet.yml"
    config_path.write_text("uplink: {url: 'mqtts://mqtt.example.com:8883'}\n")
    config = load_config(config_path)
    assert [t.get_secret_value() for t in config.tickets.bearer_tokens] == ["change-me"]
    assert config.uplink is not None
    assert config.uplink.password is not None
    assert config.ingest.password is not None
    assert config.web.session_secret is not None
    assert config.tickets.database.startswith("postgresql+psycopg://")
