"""``posfleet ingest`` as a user runs it, and the sample configuration snippets."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from posfleet.config import parse_config
from posfleet.exporters.ingest.app import IngestApp, IngestStartupError
from tests.fixtures.net import wait_until
from tests.fixtures.servers import MosquittoServer

REPO = Path(__file__).resolve().parents[3]
SAMPLES = [REPO / "exporters" / name / "sample.yml" for name in ("ingest", "mqtt_uplink")]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.parent.name)
def test_sample_configs_load(sample: Path) -> None:
    config = parse_config(sample.read_text(), str(sample))
    assert config.ingest.share_group == "posfleet-ingest"
    if sample.parent.name == "mqtt_uplink":
        assert config.uplink is not None
        assert config.uplink.url.startswith("mqtts://")


def run_ingest(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "posfleet", "ingest", "-c", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ingest:\n  share_group: [1]\n", "share_group"),
        ("ingest:\n  url: http://broker:1883\n  listen: 127.0.0.1:0\n", "mqtt://"),
        ("ingest:\n  listen: nowhere\n", "host:port"),
    ],
)
def test_bad_config_exits_2_with_a_message_and_no_traceback(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    process = subprocess.run(
        [sys.executable, "-m", "posfleet", "ingest", "-c", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert process.returncode == 2
    assert expected in process.stderr
    assert "Traceback" not in process.stderr


def test_ingest_stops_cleanly_on_sigterm(mosquitto: MosquittoServer, tmp_path: Path) -> None:
    path = tmp_path / "ingest.yml"
    path.write_text(f"ingest:\n  url: {mosquitto.url}\n  listen: 127.0.0.1:0\n")
    process = run_ingest(path, "--client-id", "cli-test")
    assert process.stderr is not None
    stream = process.stderr
    wait_until(lambda: "subscribed" in stream.readline(), timeout=20, message="subscribed")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_bad_broker_url_is_a_startup_error() -> None:
    config = parse_config("ingest:\n  url: tcp://broker\n")
    with pytest.raises(IngestStartupError, match=r"ingest\.url"):
        IngestApp(config, listen="127.0.0.1:0")
