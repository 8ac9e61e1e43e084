"""A private Mosquitto for the demo: loopback only, data under the demo's directory."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from posfleet.stack.net import LOOPBACK, free_port, tcp_connectable
from posfleet.stack.process import ManagedProcess


def mosquitto(directory: Path, port: int | None = None) -> tuple[ManagedProcess, str]:
    """The broker process (not started) and its URL."""
    port = port or free_port()
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = directory / "mosquitto.conf"
    lines = [
        f"listener {port} {LOOPBACK}",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {data}/",
        "log_dest stderr",
    ]
    if os.geteuid() == 0:
        # As root, mosquitto would switch to user 'mosquitto', who cannot write our directory.
        lines.append(f"user {getpass.getuser()}")
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    process = ManagedProcess(
        "mosquitto",
        ["mosquitto", "-c", str(config)],
        log_path=directory / "mosquitto.log",
        ready=lambda: tcp_connectable(LOOPBACK, port),
    )
    return process, f"mqtt://{LOOPBACK}:{port}"
