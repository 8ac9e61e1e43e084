"""Helpers for the stack and demo tests: running ``posfleet`` and looking for leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from posfleet.stack.net import tcp_connectable
from posfleet.stack.process import process_start_ticks
from posfleet.stack.stack import SERVICE_ORDER, free_loopback_listen

POSFLEET = [sys.executable, "-m", "posfleet"]


def posfleet(
    *args: str, timeout: float = 120, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*POSFLEET, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=dict(env) if env is not None else None,
    )


def listen_args(listen: Mapping[str, str]) -> list[str]:
    args = []
    for name in SERVICE_ORDER:
        args += ["--listen", f"{name}={listen[name]}"]
    return args


def free_listen() -> dict[str, str]:
    return free_loopback_listen()


def processes_using(directory: Path) -> list[str]:
    """Processes whose command line mentions ``directory`` (servers get their config paths
    from under it)."""
    listing = subprocess.run(
        ["ps", "-eo", "pid,stat,args"], capture_output=True, text=True, check=True
    ).stdout
    return [
        line for line in listing.splitlines()
        if str(directory) in line and " Z" not in line and "ps -eo" not in line
    ]


def alive(pids: Iterable[int]) -> list[int]:
    return [pid for pid in pids if process_start_ticks(pid) is not None]


def listening(addresses: Iterable[str]) -> list[str]:
    found = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        if tcp_connectable(host, int(port), timeout=0.5):
            found.append(address)
    return found


def fake_server_on_path(directory: Path, name: str, message: str) -> dict[str, str]:
    """An environment whose PATH finds a ``name`` that prints ``message`` and exits 1 (a
    server that cannot start)."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / name
    script.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{directory}{os.pathsep}{os.environ['PATH']}"}
