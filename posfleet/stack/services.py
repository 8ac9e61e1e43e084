"""How to run each central service: its configuration file, command line and readiness check.

One place for the quirks of each server, used by ``posfleet stack``, ``posfleet demo`` and the
test fixtures (``tests/fixtures/servers.py`` writes its Mosquitto and InfluxDB configurations
with the functions below):

* Mosquitto 2.0 as root switches to the user ``mosquitto``, who cannot write our data
  directory: the configuration names the current user.
* InfluxDB 1.6 (Debian) spells the telemetry switch ``reporting-enabled``, upstream
  ``reporting-disabled``; its RPC service binds 8088 unless told otherwise; ``INFLUXDB_*``
  variables override the file, so they are removed from its environment. The database the
  outputs write to must exist: :func:`influxdb` creates it once the server answers.
* Prometheus 2.42 gets ``--web.enable-lifecycle`` (reload) and the remote-write receiver.
* Alertmanager 0.25 would open a gossip cluster port on 0.0.0.0:9094 unless
  ``--cluster.listen-address=`` is empty.
"""

from __future__ import annotations

import getpass
import importlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from posfleet.stack.alertmanager import config_for_bridge
from posfleet.stack.net import tcp_connectable
from posfleet.stack.process import ManagedProcess, ServerStartError, environ_without

PACKAGE = Path(__file__).resolve().parents[1]
RULES_DIR = PACKAGE / "alerts"
"""The shipped rule files (``alerts/*.yml``; ``posfleet/alerts`` links to it)."""
INFLUXDB_DATABASE = "posfleet"

# Never send loopback health checks through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str, *, method: str = "GET", timeout: float = 2.0) -> int | None:
    """The HTTP status of ``url`` (error statuses too), None when nothing answers."""
    request = urllib.request.Request(url, method=method)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (OSError, ValueError):
        return None


def http_ready(url: str, *statuses: int) -> Callable[[], bool]:
    """A readiness probe: GET ``url`` answers with one of ``statuses`` (default 200)."""
    wanted = statuses or (200,)
    return lambda: http_status(url, timeout=1.0) in wanted


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` -> (host, port); ValueError with the reason otherwise."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not host:port")
    return host.strip("[]"), int(port)


@dataclass
class Service:
    """One central service: where it listens and the process that runs it."""

    name: str
    host: str
    port: int
    process: ManagedProcess = field(repr=False)
    scheme: str = "http"
    health_path: str | None = None
    """HTTP path answering 2xx while the service is healthy (None: a TCP connect)."""
    healthy_statuses: tuple[int, ...] = (200,)
    extra_ports: tuple[int, ...] = ()
    """Other ports it binds (InfluxDB's RPC service): checked free before starting."""
    after_start: Callable[[], None] | None = field(default=None, repr=False)
    """Run once the process is ready (e.g. create the InfluxDB database)."""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"

    @property
    def health_url(self) -> str | None:
        return f"{self.url}{self.health_path}" if self.health_path is not None else None

    def healthy(self) -> bool:
        if self.health_path is None:
            return tcp_connectable(self.host, self.port)
        return http_status(f"{self.url}{self.health_path}") in self.healthy_statuses

    def start(self) -> None:
        """Start the process, wait until it is ready and run :attr:`after_start`."""
        self.process.launch()
        self.finish_start()

    def finish_start(self) -> None:
        """After ``process.launch()``: wait until ready, then run :attr:`after_start`."""
        self.process.wait_ready()
        if self.after_start is not None:
            try:
                self.after_start()
            except ServerStartError:
                self.process.stop()
                raise


def _python_posfleet(*args: str) -> list[str]:
    return [sys.executable, "-m", "posfleet", *args]


def _toml_str(value: str | Path) -> str:
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


# --- Mosquitto ---------------------------------------------------------------------------------


def mosquitto_conf(host: str, port: int, data_dir: Path, extra_config: str = "") -> str:
    """A broker on ``host:port``: anonymous, persistent under ``data_dir``, logs to stderr."""
    lines = [
        f"listener {port} {host}",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {data_dir}/",
        "log_dest stderr",
        "log_timestamp_format %H:%M:%S",
    ]
    if os.geteuid() == 0:
        # As root, mosquitto 2 would switch to user 'mosquitto', who cannot write our
        # directory; naming the current user keeps it as it is.
        lines.append(f"user {getpass.getuser()}")
    if extra_config:
        lines.append(extra_config)
    return "\n".join(lines) + "\n"


def mosquitto(directory: Path, host: str, port: int, *, detached: bool = False) -> Service:
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = directory / "mosquitto.conf"
    config.write_text(mosquitto_conf(host, port, data), encoding="utf-8")
    process = ManagedProcess(
        "mosquitto",
        ["mosquitto", "-c", str(config)],
        log_path=directory / "mosquitto.log",
        ready=lambda: tcp_connectable(host, port),
        cwd=directory,
        detached=detached,
    )
    return Service("mosquitto", host, port, process, scheme="mqtt")


# --- InfluxDB 1.x ----------------------------------------------------------------------------


def influxdb_conf(host: str, port: int, rpc_port: int, data_dir: Path) -> str:
    """influxd 1.6 configuration: HTTP on ``host:port``, RPC on ``rpc_port``, data under
    ``data_dir``, no usage reporting, no internal monitor database."""
    return "\n".join(
        [
            # Upstream spells it reporting-disabled; Debian's build renamed it
            # reporting-enabled (default false). Unknown keys are ignored: set both.
            "reporting-disabled = true",
            "reporting-enabled = false",
            # RPC service for backup/restore; defaults to 8088.
            f"bind-address = {_toml_str(f'{host}:{rpc_port}')}",
            "[meta]",
            f"  dir = {_toml_str(data_dir / 'meta')}",
            "[data]",
            f"  dir = {_toml_str(data_dir / 'data')}",
            f"  wal-dir = {_toml_str(data_dir / 'wal')}",
            "  query-log-enabled = false",
            # Hinted handoff only exists in old/enterprise builds; 1.6 ignores this.
            "[hinted-handoff]",
            f"  dir = {_toml_str(data_dir / 'hh')}",
            "[monitor]",
            "  store-enabled = false",
            "[subscriber]",
            "  enabled = false",
            "[http]",
            f"  bind-address = {_toml_str(f'{host}:{port}')}",
            "",
        ]
    )


def create_influxdb_database(url: str, database: str) -> None:
    """``CREATE DATABASE`` (a no-op when it exists); ServerStartError when refused."""
    query = urllib.parse.urlencode({"q": f'CREATE DATABASE "{database}"'})
    request = urllib.request.Request(f"{url}/query?{query}", method="POST")
    try:
        with _OPENER.open(request, timeout=10) as response:
            response.read()
    except (OSError, ValueError) as err:
        raise ServerStartError(f"influxdb: cannot create database {database!r}: {err}") from err


def influxdb(
    directory: Path,
    host: str,
    port: int,
    rpc_port: int,
    *,
    database: str = INFLUXDB_DATABASE,
    detached: bool = False,
) -> Service:
    data = directory / "data"
    config = directory / "influxdb.conf"
    directory.mkdir(parents=True, exist_ok=True)
    config.write_text(influxdb_conf(host, port, rpc_port, data), encoding="utf-8")
    url = f"http://{host}:{port}"
    process = ManagedProcess(
        "influxdb",
        ["influxd", "-config", str(config)],
        log_path=directory / "influxdb.log",
        ready=http_ready(f"{url}/ping", 204),
        cwd=directory,
        env=environ_without("INFLUXDB_"),  # they would override the config file
        detached=detached,
    )
    return Service(
        "influxdb",
        host,
        port,
        process,
        health_path="/ping",
        healthy_statuses=(204,),
        extra_ports=(rpc_port,),
        after_start=lambda: create_influxdb_database(url, database),
    )


# --- Prometheus ---------------------------------------------------------------------------------


def scrape_job(job_name: str, targets: Sequence[str], **options: Any) -> dict[str, Any]:
    """A Prometheus scrape config for static ``targets`` ("host:port")."""
    return {"job_name": job_name, "static_configs": [{"targets": list(targets)}], **options}


def shipped_rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def prometheus_config(
    *,
    scrape_configs: Sequence[Mapping[str, Any]],
    rule_files: Sequence[Path],
    alertmanagers: Sequence[str] = (),
    scrape_interval: str = "15s",
    evaluation_interval: str = "15s",
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
            "external_labels": {"fleet": "posfleet"},
        },
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [dict(job) for job in scrape_configs],
    }
    if alertmanagers:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]
        }
    return config


def prometheus(
    directory: Path,
    host: str,
    port: int,
    config: Mapping[str, Any],
    *,
    extra_args: Sequence[str] = (),
    detached: bool = False,
) -> Service:
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    url = f"http://{host}:{port}"
    process = ManagedProcess(
        "prometheus",
        [
            "prometheus",
            f"--config.file={config_path}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={host}:{port}",
            "--web.enable-remote-write-receiver",
            "--web.enable-lifecycle",
            *extra_args,
        ],
        log_path=directory / "prometheus.log",
        ready=http_ready(f"{url}/-/ready"),
        cwd=directory,
        detached=detached,
    )
    return Service("prometheus", host, port, process, health_path="/-/healthy")


# --- Alertmanager -------------------------------------------------------------------------------


def alertmanager(
    directory: Path,
    host: str,
    port: int,
    *,
    tickets_url: str,
    token_file: Path,
    wait: str | None = None,
    detached: bool = False,
) -> Service:
    """The shipped ``deploy/alertmanager/alertmanager.yml`` delivering to the ticket bridge at
    ``tickets_url`` (see :func:`posfleet.stack.alertmanager.config_for_bridge`)."""
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "alertmanager.yml"
    config = config_for_bridge(f"{tickets_url}/api/v1/alertmanager", token_file, wait=wait)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    url = f"http://{host}:{port}"
    process = ManagedProcess(
        "alertmanager",
        [
            "prometheus-alertmanager",
            f"--config.file={config_path}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address={host}:{port}",
            "--cluster.listen-address=",  # no gossip cluster (it would bind 0.0.0.0:9094)
        ],
        log_path=directory / "alertmanager.log",
        ready=http_ready(f"{url}/-/ready"),
        cwd=directory,
        detached=detached,
    )
    return Service("alertmanager", host, port, process, health_path="/-/healthy")


# --- posfleet's own services ---------------------------------------------------------------------


def tickets(
    directory: Path,
    host: str,
    port: int,
    *,
    config_path: Path,
    token: str,
    detached: bool = False,
) -> Service:
    """``posfleet tickets serve`` with ``tickets.listen``/``database`` from ``config_path`` and
    ``token`` as its bearer token (in the environment, never in a file others can read)."""
    directory.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    process = ManagedProcess(
        "tickets",
        _python_posfleet("tickets", "serve", "-c", str(config_path), "--listen", f"{host}:{port}"),
        log_path=directory / "tickets.log",
        ready=http_ready(f"{url}/healthz"),
        cwd=directory,
        env={**os.environ, "POSFLEET_TICKETS__BEARER_TOKENS": json.dumps([token])},
        detached=detached,
    )
    return Service("tickets", host, port, process, health_path="/healthz")


def ingest(
    directory: Path,
    host: str,
    port: int,
    *,
    config_path: Path,
    client_id: str = "stack-ingest-1",
    detached: bool = False,
) -> Service:
    """``posfleet ingest`` (one copy) serving /metrics on ``host:port``."""
    directory.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    process = ManagedProcess(
        "ingest",
        _python_posfleet(
            "ingest", "-c", str(config_path), "--listen", f"{host}:{port}",
            "--client-id", client_id,
        ),
        log_path=directory / "ingest.log",
        ready=http_ready(f"{url}/metrics"),
        cwd=directory,
        detached=detached,
    )
    return Service("ingest", host, port, process, health_path="/metrics")


def web_available() -> bool:
    """True when this posfleet has the web app (``posfleet web serve`` and a ``web:``
    configuration section)."""
    from posfleet.config import PosfleetConfig

    try:
        importlib.import_module("posfleet.cli.web")
    except ImportError:
        return False
    return "web" in PosfleetConfig.model_fields


def web(
    directory: Path,
    host: str,
    port: int,
    *,
    config_path: Path,
    environ: Mapping[str, str] | None = None,
    detached: bool = False,
) -> Service:
    """``posfleet web serve`` (merchant status page and IT fleet view)."""
    directory.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    process = ManagedProcess(
        "web",
        _python_posfleet("web", "serve", "-c", str(config_path), "--listen", f"{host}:{port}"),
        log_path=directory / "web.log",
        ready=http_ready(f"{url}/healthz"),
        cwd=directory,
        env={**os.environ, **(environ or {})},
        detached=detached,
    )
    return Service("web", host, port, process, health_path="/healthz")
