"""InfluxDB output throughput against a real influxd, compared with a plain batched writer.

Starts influxd 1.x on a free port in a temp directory (as the test fixture does) and
measures, alternating, in fresh databases:

(a) the ceiling: the same line protocol, serialised in advance, POSTed in batches of 5,000
    lines back to back with aiohttp;
(b) posfleet's InfluxDbSink end to end: StatusSnapshot objects in -> line protocol -> disk
    buffer -> sender -> acked, batches of 5,000;

plus serialisation alone. Prints medians, the ratio (b)/(a) (target >= 0.9) and the machine.

    .venv/bin/python bench/influxdb_write.py [--snapshots 25000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from posfleet.config.models import InfluxDbSettings
from posfleet.exporters.influxdb import InfluxDbSink
from posfleet.exporters.influxdb.lineprotocol import LineProtocolSerializer
from posfleet.telemetry import StatusSnapshot
from posfleet.telemetry.docs import EXAMPLE_STATUS

BATCH = 5_000
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Influxd:
    """influxd 1.x in a temp directory on a free port, stopped at exit."""

    def __init__(self, base: Path, cpus: set[int] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        data = base / "data"
        config = base / "influxdb.conf"
        config.write_text(
            f"""reporting-disabled = true
reporting-enabled = false
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{data / "meta"}"
[data]
  dir = "{data / "data"}"
  wal-dir = "{data / "wal"}"
  query-log-enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
"""
        )
        executable = shutil.which("influxd")
        if executable is None:
            raise SystemExit("influxd not found on PATH (scripts/setup installs it)")
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
        self._process = subprocess.Popen(
            [executable, "-config", str(config)],
            stdout=(base / "influxd.log").open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        deadline = time.monotonic() + 30
        while not self._ready():
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.stop()
                raise SystemExit(f"influxd did not start; see {base / 'influxd.log'}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            with _NO_PROXY.open(f"{self.url}/ping", timeout=1) as response:
                return bool(response.status == 204)
        except OSError:
            return False

    def query(self, statement: str, database: str = "") -> bytes:
        params = urlencode({"q": statement, "db": database})
        request = urllib.request.Request(f"{self.url}/query?{params}", method="POST")
        with _NO_PROXY.open(request, timeout=60) as response:
            return bytes(response.read())

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def make_snapshots(count: int) -> list[StatusSnapshot]:
    """Full snapshots (8 points, ~45 fields each) of 2,000 terminals at distinct times."""
    start = datetime(2026, 11, 25, tzinfo=UTC)
    template = StatusSnapshot.model_validate(EXAMPLE_STATUS)
    full = template.model_validate(
        {
            **EXAMPLE_STATUS,
            "screen": {"display_ok": True, "touch_responsive": True, "touch_errors_total": 3},
            "card_reader": {"chip_reads_ok_total": 10, "contactless_reads_ok_total": 90},
            "qr_scanner": {"ok": True, "decodes_ok_total": 5},
        }
    )
    return [
        full.model_copy(
            update={
                "terminal_id": f"T-{index % 2000:05d}",
                "store_id": f"S-{index % 200:04d}",
                "observed_at": start + timedelta(seconds=index // 2000 * 15, microseconds=index),
            }
        )
        for index in range(count)
    ]


async def plain_writer(url: str, database: str, lines: list[str]) -> float:
    """Points/s of back-to-back POSTs of pre-serialised batches (the ceiling)."""
    bodies = ["\n".join(lines[i : i + BATCH]).encode() for i in range(0, len(lines), BATCH)]
    target = f"{url}/write?{urlencode({'db': database, 'precision': 'ns'})}"
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        for body in bodies:
            async with session.post(target, data=body) as response:
                if response.status != 204:
                    answer = await response.text()
                    raise SystemExit(f"plain writer: HTTP {response.status} {answer}")
        return len(lines) / (time.perf_counter() - started)


async def posfleet_writer(
    url: str, database: str, snapshots: list[StatusSnapshot], points: int, buffer_dir: Path
) -> float:
    """Points/s of the InfluxDbSink from snapshot objects to acked writes."""
    settings = InfluxDbSettings(url=url, database=database, batch_size=BATCH)
    sink = InfluxDbSink(settings, buffer_dir, buffer_max_bytes=4 * 1024**3)
    await sink.start()
    started = time.perf_counter()
    for index, snapshot in enumerate(snapshots):
        await sink.publish(snapshot)
        if index % 10 == 9:
            # A collector yields between polls; and this producer, far faster than any
            # fleet, waits when the queue before the disk buffer fills instead of
            # overflowing it, so what is measured is the rate the pipeline sustains.
            await asyncio.sleep(0)
            if sink.queued_points() > 2 * BATCH:
                await sink.flush()
    await sink.flush()
    deadline = time.monotonic() + 300
    while sink.stats.points_sent < points:
        if time.monotonic() > deadline or sink.stats.points_dropped.total():
            raise SystemExit(f"posfleet writer stalled: {sink.stats.points_sent} of {points}")
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    await sink.close()
    if sink.stats.points_dropped.total():
        raise SystemExit(f"posfleet writer dropped points: {dict(sink.stats.points_dropped)}")
    return points / elapsed


def serialise_rate(snapshots: list[StatusSnapshot]) -> tuple[float, list[str]]:
    serializer = LineProtocolSerializer()
    started = time.perf_counter()
    lines = [line for snapshot in snapshots for line in serializer.snapshot_lines(snapshot)]
    return len(lines) / (time.perf_counter() - started), lines


def measure(
    snapshots: list[StatusSnapshot], lines: list[str], runs: int, server_cpus: set[int] | None
) -> tuple[float, float]:
    """Median points/s of (a) and (b), alternating, each run in fresh databases."""
    everything = os.sched_getaffinity(0)
    with tempfile.TemporaryDirectory() as directory:
        server = Influxd(Path(directory), server_cpus)
        if server_cpus:
            os.sched_setaffinity(0, everything - server_cpus)
        try:
            plain, ours = [], []
            for run in range(runs):
                for name in (f"plain{run}", f"posfleet{run}"):
                    server.query(f"CREATE DATABASE {name}")
                plain.append(asyncio.run(plain_writer(server.url, f"plain{run}", lines)))
                buffer_dir = Path(directory) / f"buffer{run}"
                ours.append(
                    asyncio.run(
                        posfleet_writer(
                            server.url, f"posfleet{run}", snapshots, len(lines), buffer_dir
                        )
                    )
                )
                check = server.query(
                    "SELECT count(reported) FROM posfleet_terminal", f"posfleet{run}"
                )
                if f",{len(snapshots)}]".encode() not in check:
                    raise SystemExit(f"posfleet run {run}: not every snapshot arrived: {check!r}")
        finally:
            os.sched_setaffinity(0, everything)
            server.stop()
    return statistics.median(plain), statistics.median(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--snapshots", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    snapshots = make_snapshots(args.snapshots)
    serial_rates, all_lines = zip(*(serialise_rate(snapshots) for _ in range(3)), strict=True)
    lines = all_lines[0]
    print(
        f"influxdb write: {args.snapshots} full snapshots = {len(lines)} points "
        f"({len(''.join(lines)) / len(lines):.0f} bytes/point avg), batches of {BATCH}"
    )
    print(f"  serialise only          {statistics.median(serial_rates):>10,.0f} points/s")
    cpus = sorted(os.sched_getaffinity(0))
    setups: list[tuple[str, set[int] | None]] = [("influxd and writer share all CPUs", None)]
    if len(cpus) >= 2:
        setups.append((f"influxd on CPU {cpus[0]}, writer on the rest", {cpus[0]}))
    for title, server_cpus in setups:
        ceiling, achieved = measure(snapshots, lines, args.runs, server_cpus)
        print(f"  {title}:")
        print(f"    (a) plain writer      {ceiling:>10,.0f} points/s (median of {args.runs})")
        print(f"    (b) posfleet sink     {achieved:>10,.0f} points/s (median of {args.runs})")
        print(f"    ratio (b)/(a)         {achieved / ceiling:>10.2f}   (target >= 0.9)")
    print(
        f"machine: nproc={os.cpu_count()}, {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}, influxd 1.x on loopback"
    )


if __name__ == "__main__":
    main()
