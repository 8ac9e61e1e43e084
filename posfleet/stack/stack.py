"""The central stack: Mosquitto, InfluxDB, the ticket bridge, Alertmanager, ingest, the web app
and Prometheus, started together under one directory.

``posfleet stack up`` starts them detached and records them in ``<dir>/stack.json`` (pid,
process start time, address), ``status`` and ``down`` read that file; ``posfleet demo``
starts the same services attached to itself (it runs ingest in its own process, on the
simulation's clock). Layout of the directory::

    <dir>/stack.json            what runs (pids, addresses)
    <dir>/central.yml           the posfleet configuration of ingest, tickets and web
    <dir>/secrets/              generated tokens and secrets (mode 0600)
    <dir>/<service>/            each service's configuration, data and <service>.log
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from posfleet.config import ConfigError, parse_config
from posfleet.stack import services
from posfleet.stack.net import free_port, tcp_connectable
from posfleet.stack.process import (
    ServerStartError,
    is_running,
    process_start_ticks,
    stop_pid,
)
from posfleet.stack.services import Service, split_address

SERVICE_ORDER = (
    "mosquitto",
    "influxdb",
    "tickets",
    "alertmanager",
    "ingest",
    "web",
    "prometheus",
)
"""Start order (a service starts after those it talks to); stopped in reverse."""

DEFAULT_LISTEN: Mapping[str, str] = {
    "mosquitto": "127.0.0.1:1883",
    "influxdb": "127.0.0.1:8086",
    "tickets": "127.0.0.1:9466",
    "alertmanager": "127.0.0.1:9093",
    "ingest": "127.0.0.1:9465",
    "web": "127.0.0.1:9467",
    "prometheus": "127.0.0.1:9090",
}
INFLUXDB_RPC_DEFAULT = 8088
STATE_FILE = "stack.json"
CENTRAL_CONFIG = "central.yml"
TICKETS_TOKEN_FILE = "tickets-token"
WEB_SESSION_SECRET_FILE = "web-session-secret"
TICKETS_TOKEN_ENV = "POSFLEET_WEB__TICKETS_TOKEN"
WEB_SESSION_SECRET_ENV = "POSFLEET_WEB__SESSION_SECRET"


class StackError(Exception):
    """The stack cannot be started (or is in a state that forbids the command)."""


@dataclass
class StackPlan:
    """What to run and where."""

    directory: Path
    listen: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LISTEN))
    """host:port per service (see :data:`DEFAULT_LISTEN`)."""
    influxdb_rpc_port: int = INFLUXDB_RPC_DEFAULT
    config_path: Path | None = None
    """A posfleet configuration whose inventory (merchants, stores) and settings (alerting,
    tickets targets, ...) the central services use; the stack sets the sections that say
    where its own services are."""
    collectors: list[str] = field(default_factory=list)
    """Edge collectors' /metrics addresses for Prometheus to scrape."""
    detached: bool = True
    with_ingest: bool = True
    """False: the caller runs ingest itself (the demo does, on simulated time); Prometheus
    still scrapes ``listen['ingest']``."""
    with_web: bool = True
    """Run the web app when this posfleet has it."""
    rule_files: list[Path] | None = None
    """Alert rule files (None: the shipped ``alerts/*.yml``)."""
    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"
    alertmanager_wait: str | None = None
    """Replaces group_wait and group_interval of every route (None: as shipped)."""
    extra_config: dict[str, Any] = field(default_factory=dict)
    """Sections merged into central.yml last (the demo's web users' database, ...)."""

    def address(self, name: str) -> tuple[str, int]:
        return split_address(self.listen[name])

    def url(self, name: str) -> str:
        host, port = self.address(name)
        scheme = "mqtt" if name == "mosquitto" else "http"
        return f"{scheme}://{host}:{port}"

    @property
    def runs_web(self) -> bool:
        return self.with_web and services.web_available()


def check_interval(text: str) -> str:
    """A Prometheus duration for the scrape interval, or StackError."""
    if not re.fullmatch(r"(?:\d+(?:ms|[smhdwy]))+", text):
        raise StackError(f"--scrape-interval: {text!r} is not a duration such as 15s or 1m")
    return text


def parse_listen(items: Sequence[str]) -> dict[str, str]:
    """``["prometheus=0.0.0.0:9090", ...]`` -> the full listen map (defaults for the rest)."""
    listen = dict(DEFAULT_LISTEN)
    for item in items:
        name, sep, address = item.partition("=")
        if not sep or name not in DEFAULT_LISTEN:
            raise StackError(
                f"--listen {item!r}: expected SERVICE=HOST:PORT with SERVICE one of "
                f"{', '.join(SERVICE_ORDER)}"
            )
        try:
            split_address(address)
        except ValueError as exc:
            raise StackError(f"--listen {name}: {exc}") from None
        listen[name] = address
    return listen


def free_loopback_listen() -> dict[str, str]:
    """Free loopback ports for every service (the demo, the tests)."""
    return {name: f"127.0.0.1:{free_port()}" for name in SERVICE_ORDER}


# --- secrets and configuration ------------------------------------------------------------------


def _secret(directory: Path, name: str) -> str:
    """A generated secret kept in ``<dir>/secrets/<name>`` (0600), the same across restarts."""
    folder = directory / "secrets"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def tickets_token(directory: Path) -> str:
    """The bearer token of the stack's ticket bridge (Alertmanager and the web app use it)."""
    return _secret(directory, TICKETS_TOKEN_FILE)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def web_section(plan: StackPlan) -> dict[str, Any]:
    """The ``web:`` section of the stack's web app (its secrets come from the environment:
    POSFLEET_WEB__TICKETS_TOKEN, POSFLEET_WEB__SESSION_SECRET)."""
    return {
        "listen": plan.listen["web"],
        "accounts_database": str(plan.directory / "web" / "accounts.sqlite3"),
        "tickets_url": plan.url("tickets"),
        # Plain HTTP on the stack's addresses; put a TLS proxy in front for other machines.
        "cookie_secure": False,
    }


def central_config(plan: StackPlan) -> dict[str, Any]:
    """The posfleet configuration of the stack's ingest, ticket bridge and web app."""
    base: dict[str, Any] = {}
    if plan.config_path is not None:
        try:
            text = plan.config_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise StackError(f"{plan.config_path}: cannot read: {exc.strerror}") from None
        try:
            parse_config(text, str(plan.config_path))
        except ConfigError as exc:
            raise StackError(str(exc)) from None
        base = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    influx_host, influx_port = plan.address("influxdb")
    sections: dict[str, Any] = {
        "ingest": {
            "url": plan.url("mosquitto"),
            "listen": plan.listen["ingest"],
        },
        "influxdb": {
            "url": f"http://{influx_host}:{influx_port}",
            "api": "v1",
            "database": services.INFLUXDB_DATABASE,
        },
        "tickets": {
            "listen": plan.listen["tickets"],
            "database": str(plan.directory / "tickets" / "tickets.sqlite3"),
        },
        "buffer": {"directory": str(plan.directory / "ingest" / "buffer")},
        "payments": {"database": str(plan.directory / "payments.sqlite3")},
    }
    if plan.runs_web:
        # Ingest keeps each terminal's state for the web app in the status store.
        sections["status_store"] = {
            "database": str(plan.directory / "status.sqlite3"),
            "write_in": "ingest",
        }
        sections["web"] = web_section(plan)
    return _merge(_merge(base, sections), plan.extra_config)


def write_central_config(plan: StackPlan) -> Path:
    config = central_config(plan)
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    path = plan.directory / CENTRAL_CONFIG
    try:
        parse_config(text, str(path))
    except ConfigError as exc:
        raise StackError(f"the stack's configuration is invalid:\n{exc}") from None
    path.write_text(text, encoding="utf-8")
    return path


# --- the services ------------------------------------------------------------------------------


def build_services(plan: StackPlan) -> list[Service]:
    """The services of ``plan`` in start order (not started); writes their config files."""
    directory = plan.directory
    directory.mkdir(parents=True, exist_ok=True)
    config_path = write_central_config(plan)
    token = tickets_token(directory)
    token_file = directory / "secrets" / TICKETS_TOKEN_FILE
    detached = plan.detached
    built: dict[str, Service] = {}
    host, port = plan.address("mosquitto")
    built["mosquitto"] = services.mosquitto(directory / "mosquitto", host, port, detached=detached)
    host, port = plan.address("influxdb")
    built["influxdb"] = services.influxdb(
        directory / "influxdb", host, port, plan.influxdb_rpc_port, detached=detached
    )
    host, port = plan.address("tickets")
    built["tickets"] = services.tickets(
        directory / "tickets", host, port, config_path=config_path, token=token,
        detached=detached,
    )
    host, port = plan.address("alertmanager")
    built["alertmanager"] = services.alertmanager(
        directory / "alertmanager",
        host,
        port,
        tickets_url=plan.url("tickets"),
        token_file=token_file,
        wait=plan.alertmanager_wait,
        detached=detached,
    )
    if plan.with_ingest:
        host, port = plan.address("ingest")
        built["ingest"] = services.ingest(
            directory / "ingest", host, port, config_path=config_path, detached=detached
        )
    if plan.runs_web:
        host, port = plan.address("web")
        built["web"] = services.web(
            directory / "web",
            host,
            port,
            config_path=config_path,
            environ={
                TICKETS_TOKEN_ENV: token,
                WEB_SESSION_SECRET_ENV: _secret(directory, WEB_SESSION_SECRET_FILE),
            },
            detached=detached,
        )
    jobs = [
        services.scrape_job("posfleet-ingest", [plan.listen["ingest"]]),
        services.scrape_job("posfleet-tickets", [plan.listen["tickets"]]),
    ]
    if plan.collectors:
        jobs.insert(0, services.scrape_job("posfleet-collector", plan.collectors))
    host, port = plan.address("prometheus")
    built["prometheus"] = services.prometheus(
        directory / "prometheus",
        host,
        port,
        services.prometheus_config(
            scrape_configs=jobs,
            rule_files=plan.rule_files or services.shipped_rule_files(),
            alertmanagers=[plan.listen["alertmanager"]],
            scrape_interval=plan.scrape_interval,
            evaluation_interval=plan.evaluation_interval,
        ),
        detached=detached,
    )
    return [built[name] for name in SERVICE_ORDER if name in built]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def check_ports(plan_services: Sequence[Service]) -> None:
    """StackError naming every service whose address is taken by another program."""
    taken = [
        f"{service.name}: {service.host}:{port} is already in use by another program"
        for service in plan_services
        for port in (service.port, *service.extra_ports)
        if port_in_use(service.host, port)
    ]
    if taken:
        raise StackError(
            "\n".join(taken) + "\nchoose other addresses (--listen SERVICE=HOST:PORT) or stop it"
        )


def failure_message(service: Service, error: Exception, lines: int = 20) -> str:
    return (
        f"{service.name} did not start: {error}\n"
        f"--- last lines of {service.process.log_path} ---\n{service.process.log_tail(lines)}"
    )


START_WAVES: tuple[tuple[str, ...], ...] = (
    ("mosquitto", "influxdb"),
    ("tickets", "ingest", "web"),
    ("alertmanager", "prometheus"),
)
"""Services started together (each wave after the one before is ready): posfleet's own
Python services take seconds to import, so they start side by side."""


def _waves(plan_services: Sequence[Service]) -> list[list[Service]]:
    waves = [[s for s in plan_services if s.name in names] for names in START_WAVES]
    known = {name for names in START_WAVES for name in names}
    waves.append([s for s in plan_services if s.name not in known])
    return [wave for wave in waves if wave]


def start_services(
    plan_services: Sequence[Service],
    say: Callable[[str], None],
    on_started: Callable[[Service], None] | None = None,
) -> None:
    """Start the services (wave by wave, see :data:`START_WAVES`: a wave's processes are
    launched together, then each is waited for) until each is ready. If one fails, stop
    those already launched and raise StackError naming it, with the end of its log."""
    launched: list[Service] = []
    try:
        for wave in _waves(plan_services):
            began = time.monotonic()
            for service in wave:
                say(f"  starting {service.name:<12} {service.url} ...")
                try:
                    service.process.launch()
                except ServerStartError as exc:
                    raise StackError(failure_message(service, exc)) from None
                launched.append(service)
            for service in wave:
                try:
                    service.finish_start()
                except ServerStartError as exc:
                    raise StackError(failure_message(service, exc)) from None
                say(f"  {service.name:<12} ready after {time.monotonic() - began:.1f} s")
                if on_started is not None:
                    on_started(service)
    except BaseException:
        stop_services(launched)
        raise


def stop_services(running: Sequence[Service]) -> None:
    """Stop (SIGTERM, then SIGKILL after each one's timeout) in reverse start order."""
    for service in reversed(running):
        service.process.stop()


# --- detached: the state file ---------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceState:
    name: str
    pid: int
    start_ticks: int | None
    address: str
    url: str
    health_url: str | None
    log: str

    @property
    def running(self) -> bool:
        return is_running(self.pid, self.start_ticks)


def read_state(directory: Path) -> list[ServiceState]:
    path = directory / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise StackError(f"{path}: unreadable state file: {exc}") from None
    return [ServiceState(**entry) for entry in data.get("services", [])]


def _write_state(directory: Path, states: Sequence[ServiceState]) -> None:
    path = directory / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {"directory": str(directory), "services": [vars(s) for s in states]}, indent=2
        )
        + "\n",
        encoding="utf-8",
    )
    tmp.replace(path)


def _state_of(service: Service) -> ServiceState:
    pid = service.process.pid
    assert pid is not None
    return ServiceState(
        name=service.name,
        pid=pid,
        start_ticks=process_start_ticks(pid),
        address=service.address,
        url=service.url,
        health_url=service.health_url,
        log=str(service.process.log_path),
    )


def up(plan: StackPlan, say: Callable[[str], None]) -> list[Service]:
    """Start the stack detached; returns the started services. StackError when something
    of an earlier ``up`` still runs, an address is taken, or a service fails to start."""
    plan.directory.mkdir(parents=True, exist_ok=True)
    still = [state.name for state in read_state(plan.directory) if state.running]
    if still:
        raise StackError(
            f"the stack in {plan.directory} is already running ({', '.join(still)}); "
            f"`posfleet stack down --dir {plan.directory}` first"
        )
    built = build_services(plan)
    check_ports(built)
    start_services(built, say, on_started=state_recorder(plan.directory))
    return built


def state_recorder(directory: Path) -> Callable[[Service], None]:
    """A fresh state file in ``directory``, and a callback adding a started service to it
    (so that ``status`` and ``down`` know it even if a later service fails)."""
    recorded: list[ServiceState] = []
    _write_state(directory, recorded)

    def record(service: Service) -> None:
        recorded.append(_state_of(service))
        _write_state(directory, recorded)

    return record


def forget_state(directory: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (directory / STATE_FILE).unlink()


@dataclass(frozen=True)
class ServiceStatus:
    state: ServiceState
    running: bool
    healthy: bool | None
    """None when not running."""


def status(directory: Path) -> list[ServiceStatus]:
    rows = []
    for state in read_state(directory):
        running = state.running
        healthy: bool | None = None
        if running:
            if state.health_url is not None:
                healthy = services.http_status(state.health_url) in (200, 204)
            else:
                host, port = split_address(state.address)
                healthy = tcp_connectable(host, port)
        rows.append(ServiceStatus(state, running, healthy))
    return rows


def down(
    directory: Path, say: Callable[[str], None], timeout: float = 10.0
) -> list[tuple[str, str]]:
    """Stop every recorded service (reverse order; SIGTERM, SIGKILL after ``timeout``)."""
    outcomes = []
    states = read_state(directory)
    for state in reversed(states):
        outcome = stop_pid(state.pid, state.start_ticks, timeout)
        say(f"  {state.name:<12} {outcome} (pid {state.pid})")
        outcomes.append((state.name, outcome))
    forget_state(directory)
    return outcomes
