"""A temporary real Prometheus holding the replayed history.

The OpenMetrics files are backfilled with ``promtool tsdb create-blocks-from openmetrics``
(while the replay goes on); Prometheus (a :class:`~posfleet.stack.process.ManagedProcess` on
a free loopback port, data in a temporary directory, retention long enough never to drop the
past) serves them; the
recording rules the alerts need are backfilled with ``promtool tsdb create-blocks-from
rules`` layer by layer (a rule that reads another recording rule needs that rule's blocks
first), restarting Prometheus to load each layer; then every alert expression is evaluated
with range queries at the evaluation interval.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from posfleet.backtest.rules import RecordingRule, recording_rules_yaml
from posfleet.stack.net import LOOPBACK, free_port
from posfleet.stack.process import ManagedProcess

QUERY_CHUNK_STEPS: Final = 1440
"""Steps per range query (Prometheus refuses more than 11,000 points per series)."""
RETENTION: Final = "100y"


class BacktestError(RuntimeError):
    """The backtest could not run (a tool failed); the message says which and why."""


def _run(argv: Sequence[str], what: str, cwd: Path | None = None) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd)
    except FileNotFoundError:
        raise BacktestError(
            f"{what}: {argv[0]} not found (install the prometheus package)"
        ) from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise BacktestError(f"{what} failed (exit {done.returncode}):\n{tail}")


class OpenMetricsBackfill:
    """``promtool tsdb create-blocks-from openmetrics`` for each file, ``jobs`` at a time, as
    files are handed in: the replay hands each block window's file in as soon as it is
    complete, so most of the backfill runs while the replay goes on."""

    def __init__(
        self,
        data_dir: Path,
        *,
        jobs: int = 2,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self._progress = progress
        self._pool = ThreadPoolExecutor(max_workers=max(1, jobs))
        self._jobs: dict[Path, Future[None]] = {}
        self._lock = threading.Lock()
        self._done = 0

    def add(self, path: Path) -> None:
        """Backfill ``path`` (once, however often it is handed in)."""
        if path not in self._jobs:
            self._jobs[path] = self._pool.submit(self._one, path)

    def _one(self, path: Path) -> None:
        _run(
            [
                "promtool", "tsdb", "create-blocks-from", "openmetrics",
                "--quiet", str(path), str(self.data_dir),
            ],
            f"promtool create-blocks-from openmetrics {path.name}",
        )  # fmt: skip
        with self._lock:
            self._done += 1
            done = self._done
        if self._progress is not None:
            self._progress(f"backfilling series: {done}/{len(self._jobs)} files")

    def finish(self, files: Sequence[Path] = ()) -> None:
        """Backfill ``files`` too and wait for every file (the first failure is raised)."""
        for path in files:
            self.add(path)
        try:
            for job in list(self._jobs.values()):
                job.result()
        finally:
            self.close()

    def close(self) -> None:
        """Drop the files not started yet and wait for the running ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def backfill_openmetrics(
    files: Sequence[Path],
    data_dir: Path,
    *,
    jobs: int = 2,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Turn each OpenMetrics file into TSDB blocks in ``data_dir`` (``jobs`` at a time)."""
    OpenMetricsBackfill(data_dir, jobs=jobs, progress=progress).finish(sorted(files))


@dataclass
class Series:
    """One series of a range query: its labels and the step times at which it had a value."""

    labels: dict[str, str]
    times: list[int]
    values: list[float]


class TemporaryPrometheus:
    """A Prometheus on ``work_dir/data``; use as a context manager."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.data_dir = work_dir / "data"
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        config = work_dir / "prometheus.yml"
        config.write_text(json.dumps({"global": {"evaluation_interval": "1m"}}), "utf-8")
        self.process = ManagedProcess(
            "prometheus",
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--storage.tsdb.retention.time={RETENTION}",
                f"--web.listen-address={LOOPBACK}:{self.port}",
                "--query.max-samples=200000000",
                "--query.timeout=10m",
            ],
            log_path=work_dir / "prometheus.log",
            ready=self._ready,
            cwd=work_dir,
            start_timeout=120.0,
        )
        self._client = httpx.Client(base_url=self.url, timeout=600.0)

    def _ready(self) -> bool:
        try:
            return self._client.get("/-/ready", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def __enter__(self) -> TemporaryPrometheus:
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()
        self._client.close()

    def backfill_rules(
        self,
        layers: Sequence[Sequence[RecordingRule]],
        start: int,
        end: int,
        interval: int,
        progress: Callable[[str], None] | None = None,
        *,
        jobs: int = 1,
    ) -> None:
        """Backfill each layer of recording rules over [start, end], restarting in between.

        promtool evaluates a file's rules one after the other, so a layer's rules are split
        between ``jobs`` promtool processes (the rules of one layer never read each other).
        promtool evaluates a rule group at the steps shifted by an offset that is a hash of
        the group's name and file path, and ``rate()`` extrapolates by the distance to the
        window's edges: each rule gets a file of its own, named by its place in the layer and
        given relative to ``work_dir`` (where promtool runs), so the offsets depend neither on
        the temporary folder nor on ``jobs``, and the same history gives the same report.
        """
        for number, layer in enumerate(layers, start=1):
            if progress is not None:
                progress(f"recording rules: layer {number}/{len(layers)} ({len(layer)} rules)")
            parts = min(max(1, jobs), len(layer))
            commands: list[list[str]] = []
            outputs: list[Path] = []
            for part in range(parts):
                files = []
                for index in range(part, len(layer), parts):
                    name = f"recording-{number}-{index}.yml"
                    (self.work_dir / name).write_text(
                        recording_rules_yaml([layer[index]], interval), "utf-8"
                    )
                    files.append(name)
                outputs.append(self.work_dir / f"rules-{number}-{part}")
                commands.append(
                    [
                        "promtool", "tsdb", "create-blocks-from", "rules",
                        f"--start={start}", f"--end={end + interval}",
                        f"--url={self.url}", f"--eval-interval={interval}s",
                        f"--output-dir={outputs[-1].name}", *files,
                    ]
                )  # fmt: skip
            what = f"promtool create-blocks-from rules (layer {number})"
            with ThreadPoolExecutor(max_workers=max(1, parts)) as pool:
                list(pool.map(_run, commands, [what] * parts, [self.work_dir] * parts))
            self.process.stop()
            for out in outputs:
                for block in sorted(out.iterdir()) if out.exists() else ():
                    if block.is_dir():
                        shutil.move(str(block), self.data_dir / block.name)
            self.process.start()

    def query_range(self, expr: str, start: int, end: int, step: int) -> list[Series]:
        """``expr`` at every step in [start, end], as series with the times they had values."""
        merged: dict[str, Series] = {}
        chunk = step * QUERY_CHUNK_STEPS
        at = start
        while at <= end:
            upper = min(end, at + chunk - step)
            for item in self._query(expr, at, upper, step):
                labels = item["metric"]
                key = json.dumps(labels, sort_keys=True)
                series = merged.get(key)
                if series is None:
                    series = merged[key] = Series(labels, [], [])
                for stamp, value in item["values"]:
                    series.times.append(round(float(stamp)))
                    series.values.append(float(value))
            at = upper + step
        return [merged[key] for key in sorted(merged)]

    def _query(self, expr: str, start: int, end: int, step: int) -> list[dict[str, Any]]:
        response = self._client.post(
            "/api/v1/query_range",
            data={"query": expr, "start": str(start), "end": str(end), "step": f"{step}s"},
        )
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise BacktestError(f"range query failed ({response.status_code}): {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result
