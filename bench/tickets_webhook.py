"""Ticket bridge webhook throughput, SQLite and PostgreSQL (target: 500 notifications/s).

Starts ``posfleet tickets serve`` in a subprocess (uvicorn, one process, as deployed) on a
free loopback port, once with a fresh SQLite file and once with a fresh PostgreSQL database
on the machine's server (created through ``postgresql:///postgres``, like the tests'
postgres fixture, and dropped at the end). A pool of asyncio clients then posts
Alertmanager notifications (one alert each, cycling over ``--terminals`` terminals, so a
round mixes opening tickets and repeats) and the rate of answered notifications is timed.
Prints notifications/s per round and the median of 3 rounds for each store, and the machine.
Bounded: every round has a deadline and the server is stopped at the end.

    .venv/bin/python bench/tickets_webhook.py [--notifications 2000] [--clients 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psycopg
from psycopg import sql

from posfleet.stack.net import LOOPBACK, free_port

TOKEN = "bench-token"
ADMIN_DSN = os.environ.get("POSFLEET_TEST_POSTGRES_DSN") or "postgresql:///postgres"
ROUND_DEADLINE_SECONDS = 120.0


def notification(terminal: int, now: datetime) -> dict[str, Any]:
    store = f"S-{terminal // 4:04d}"
    return {
        "version": "4",
        "groupKey": f'{{}}:{{store="{store}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "posfleet-tickets",
        "groupLabels": {"store": store},
        "commonLabels": {"store": store},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "PrinterPaperOut",
                    "severity": "critical",
                    "team": "technician",
                    "component": "printer",
                    "terminal": f"T-{terminal:05d}",
                    "store": store,
                    "merchant": "M-01",
                    "region": "eu-central",
                },
                "annotations": {
                    "summary": "Receipt printer out of paper",
                    "description": "Paper end reported for 3 min.",
                    "runbook_url": "https://runbooks.example/printer#paper-out",
                    "action": "Load a new paper roll.",
                },
                "startsAt": now.isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": f"{terminal:016x}",
            }
        ],
    }


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL; yields its SQLAlchemy URL."""
    name = f"posfleet_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        info = psycopg.conninfo.conninfo_to_dict(ADMIN_DSN)
        host = info.get("host") or ""
        user = f"{info['user']}@" if info.get("user") else ""
        port = f":{info['port']}" if info.get("port") else ""
        yield f"postgresql+psycopg://{user}{host}{port}/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def bridge_server(database: str, workdir: Path) -> Iterator[str]:
    port = free_port()
    config = workdir / "fleet.yml"
    config.write_text(f"tickets: {{listen: '{LOOPBACK}:{port}', database: '{database}'}}\n")
    env = {**os.environ, "POSFLEET_TICKETS__BEARER_TOKENS": f'["{TOKEN}"]'}
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "posfleet", "--log-level", "warning", "tickets", "serve",
         "-c", str(config)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bridge did not start; see {workdir / 'server.log'}")
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


async def one_round(url: str, count: int, clients: int, offset: int, terminals: int) -> float:
    """Post ``count`` notifications from ``clients`` concurrent senders; notifications/s.

    The client is aiohttp: httpx's async client tops out near 300 requests/s here, which
    would measure the client instead of the bridge.
    """
    now = datetime.now(UTC)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(json.dumps(notification((offset + i) % terminals, now)).encode())
    failures = 0
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(url, headers=headers, connector=connector) as http:

        async def sender() -> None:
            nonlocal failures
            while not queue.empty():
                body = queue.get_nowait()
                async with http.post("/api/v1/alertmanager", data=body) as response:
                    await response.read()
                    if response.status != 200:
                        failures += 1

        started = time.perf_counter()
        async with asyncio.timeout(ROUND_DEADLINE_SECONDS):
            await asyncio.gather(*(sender() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    if failures:
        print(f"    {failures} notifications were not accepted")
    return count / elapsed


def measure(name: str, database: str, workdir: Path, args: argparse.Namespace) -> float:
    rates = []
    with bridge_server(database, workdir) as url:
        asyncio.run(one_round(url, 200, args.clients, 10**6, args.terminals))  # warm-up
        for index in range(3):
            rate = asyncio.run(
                one_round(url, args.notifications, args.clients,
                          index * args.notifications, args.terminals)
            )
            rates.append(rate)
            print(f"  {name} round {index + 1}: {rate:,.0f} notifications/s")
    median = statistics.median(rates)
    print(f"{name}: median {median:,.0f} notifications/s (target 500)")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--terminals", type=int, default=3000,
                        help="distinct terminals cycled over (first sight opens a ticket)")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    print(f"{args.notifications} notifications per round, {args.clients} clients")
    with tempfile.TemporaryDirectory(prefix="posfleet-bench-tickets-") as tmp:
        workdir = Path(tmp)
        (workdir / "sqlite").mkdir()
        measure("sqlite", str(workdir / "sqlite" / "tickets.sqlite3"), workdir / "sqlite", args)
        (workdir / "postgresql").mkdir()
        with postgres_database() as url:
            measure("postgresql", url, workdir / "postgresql", args)


if __name__ == "__main__":
    main()
