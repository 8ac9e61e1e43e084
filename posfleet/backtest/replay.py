"""Replay a history file into OpenMetrics files, in parallel partitions by store.

Everything the exporters derive is per terminal or per store (latest snapshot, paper
forecast, transaction counts, reversals), so stores are split between worker processes by a
stable hash; each worker reads the whole file, fully parses only its stores' lines (a cheap
text match finds a line's store), and writes one OpenMetrics file per two-hour block window,
ready for
``promtool tsdb create-blocks-from openmetrics``. Series from the configuration alone (store
opening, policy thresholds, baseline info) come from partition 0 only. Lines whose store
cannot be found go to partition 0, which reports them.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import queue
import re
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from posfleet.backtest.episodes import Episode, EpisodeInference
from posfleet.backtest.history import HistoryStats, parse_line
from posfleet.backtest.series import SeriesWriter
from posfleet.config.models import PosfleetConfig

FLEET_WIDE: Final = frozenset(
    {
        "posfleet_store_open",
        "posfleet_policy_threshold",
        "posfleet_baseline_info",
    }
)
"""Series from the configuration alone, written by partition 0 only. Every partition writes
``posfleet_version_below_baseline`` for the versions its own terminals run: where two run the
same version the samples are identical, and Prometheus merges overlapping blocks."""
_STORE = re.compile(r'"store_id"\s*:\s*"([^"\\]*)"')
WINDOW: Final = 7200
"""Seconds per OpenMetrics file: promtool's block length, so it reads each file once."""


def partition_of(store_id: str, parts: int) -> int:
    return zlib.crc32(store_id.encode()) % parts


@dataclass
class ReplayOptions:
    step_seconds: int = 60
    stale_after_seconds: float = 300.0
    reorder_seconds: float = 1800.0
    dense: frozenset[str] | None = None
    """Metric names that need every scrape's sample (None: all)."""


@dataclass
class PartitionResult:
    part: int
    stats: HistoryStats
    files: list[Path] = field(default_factory=list)
    first_step: int | None = None
    last_step: int | None = None
    terminal_seconds: float = 0.0
    samples: int = 0
    terminals: int = 0
    episodes: list[Episode] = field(default_factory=list)
    """Episodes inferred from this partition's transactions (stores are never split)."""


class _WindowFiles:
    """OpenMetrics text split into one file per block window (each ends with ``# EOF``);
    ``on_close`` receives each file once it is complete."""

    def __init__(
        self, directory: Path, prefix: str, on_close: Callable[[Path], None] | None = None
    ) -> None:
        self._directory = directory
        self._prefix = prefix
        self._on_close = on_close
        self._day: int | None = None
        self._file: IO[str] | None = None
        self.files: list[Path] = []
        self.samples = 0

    def write(self, at: int, text: str) -> None:
        # A sample at the window's end belongs to the next block (blocks are [start, end)).
        day = at // WINDOW
        if day != self._day:
            self.close()
            stamp = datetime.fromtimestamp(day * WINDOW, UTC).strftime("%Y%m%dT%H%M")
            path = self._directory / f"{self._prefix}-{stamp}.om"
            self._file = path.open("w", encoding="utf-8")
            self.files.append(path)
            self._day = day
        assert self._file is not None
        self._file.write(text)
        self.samples += text.count("\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.write("# EOF\n")
            self._file.close()
            self._file = None
            if self._on_close is not None:
                self._on_close(self.files[-1])


@contextlib.contextmanager
def _rare_collections() -> Iterator[None]:
    """Run the cyclic garbage collector rarely.

    The replay allocates millions of short-lived objects (models, samples) and hardly any
    cycles; with the default thresholds the collector runs every 700 allocations and keeps
    rescanning the records held back in the reorder window: a quarter of the replay's time
    for a day, more for a week (the full collections grow with the heap).
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@_rare_collections()
def replay_partition(
    trace: Path,
    config: PosfleetConfig,
    names: frozenset[str],
    part: int,
    parts: int,
    out_dir: Path,
    options: ReplayOptions,
    progress: Callable[[int], None] | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> PartitionResult:
    """Replay the lines of partition ``part`` of ``parts`` into window files in ``out_dir``
    (``on_file`` receives each one once it is complete)."""
    stats = HistoryStats()
    wanted = names if part == 0 else names - FLEET_WIDE
    days = _WindowFiles(out_dir, f"part{part}", on_file)
    writer = SeriesWriter(
        config,
        wanted,
        days.write,
        stats,
        step_seconds=options.step_seconds,
        stale_after_seconds=options.stale_after_seconds,
        reorder_seconds=options.reorder_seconds,
        dense=options.dense,
    )
    search = _STORE.search
    inference = EpisodeInference()
    done = 0
    with trace.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            done += len(raw)
            if progress is not None and number % 20000 == 0:
                progress(done)
            text = raw.decode("utf-8", errors="replace")
            if not text.strip():
                continue
            match = search(text)
            owner = partition_of(match.group(1), parts) if match else 0
            if owner != part:
                continue
            stats.lines += 1
            record = parse_line(text, number, stats)
            if record is not None:
                writer.add(record)
                if record.transaction is not None:
                    inference.observe(record.transaction)
    writer.finish()
    days.close()
    if progress is not None:
        progress(done)
    return PartitionResult(
        part=part,
        stats=stats,
        files=days.files,
        first_step=writer.first_step,
        last_step=writer.last_step,
        terminal_seconds=writer.terminal_seconds,
        samples=days.samples,
        terminals=len(writer.latest),
        episodes=inference.episodes(),
    )


def _worker(
    trace: Path,
    config: PosfleetConfig,
    names: frozenset[str],
    part: int,
    parts: int,
    out_dir: Path,
    options: ReplayOptions,
    counters: Any,
    results: Any,
) -> None:
    def progress(done: int) -> None:
        counters[part] = done

    # Completed files go through the results queue too (as paths), ahead of the result.
    results.put(
        replay_partition(
            trace, config, names, part, parts, out_dir, options, progress, results.put
        )
    )


def replay(
    trace: Path,
    config: PosfleetConfig,
    names: frozenset[str],
    out_dir: Path,
    options: ReplayOptions,
    *,
    workers: int = 2,
    report: Callable[[str], None] | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> list[PartitionResult]:
    """Replay ``trace`` in ``workers`` processes (1: in this process); results by partition.
    ``on_file`` receives each OpenMetrics file (in this process) once it is complete."""
    out_dir.mkdir(parents=True, exist_ok=True)
    size = max(1, trace.stat().st_size)
    if workers <= 1:
        def single(done: int) -> None:
            if report is not None:
                report(f"replaying history: {100 * done / size:.0f}%")

        return [replay_partition(trace, config, names, 0, 1, out_dir, options, single, on_file)]
    context: Any = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    counters = context.Array("q", workers, lock=False)
    results = context.Queue()
    processes = [
        context.Process(
            target=_worker,
            args=(trace, config, names, part, workers, out_dir, options, counters, results),
            daemon=True,
        )
        for part in range(workers)
    ]
    for process in processes:
        process.start()
    collected: list[PartitionResult] = []
    last = 0.0
    try:
        while len(collected) < workers:
            with contextlib.suppress(queue.Empty):
                item = results.get(timeout=1.0)
                if isinstance(item, PartitionResult):
                    collected.append(item)
                elif on_file is not None:
                    on_file(item)
            if any(p.exitcode not in (None, 0) for p in processes):
                raise RuntimeError("a replay worker failed (see the messages above)")
            now = time.monotonic()
            if report is not None and now - last >= 5.0:
                done = min(counters[:]) if counters else 0
                report(f"replaying history: {100 * done / size:.0f}%")
                last = now
    finally:
        for process in processes:
            process.join(timeout=5.0)
            if process.is_alive():
                process.terminate()
    return sorted(collected, key=lambda r: r.part)
