"""The backtest from start to end: history -> series -> Prometheus -> alerts -> tickets ->
episodes -> report."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from posfleet.alerts.bridge.store import Policy
from posfleet.backtest.episodes import Episode, GroundTruth, read_ground_truth_file
from posfleet.backtest.evaluate import evaluate, tickets
from posfleet.backtest.history import MAX_LISTED, HistoryStats
from posfleet.backtest.replay import PartitionResult, ReplayOptions, replay
from posfleet.backtest.report import (
    DEFAULT_HORIZON,
    analyse,
    by_hour,
    episode_json,
    figures,
    iso,
    table,
    ticket_json,
)
from posfleet.backtest.rules import load_rules, rule_files
from posfleet.backtest.tsdb import OpenMetricsBackfill, TemporaryPrometheus
from posfleet.config.models import PosfleetConfig
from posfleet.exporters.catalogue import DERIVED_METRICS, TERMINAL_METRICS

REPORT_VERSION: Final = 1
PRODUCIBLE: Final = frozenset(spec.name for spec in (*TERMINAL_METRICS, *DERIVED_METRICS))
"""Metric names a replay of history can produce (terminal and derived metrics)."""


@dataclass
class BacktestOptions:
    rules: list[Path] = field(default_factory=lambda: [Path("alerts")])
    step_seconds: int = 60
    """Scrape interval of the replay (the history's snapshot interval)."""
    evaluation_interval_seconds: int = 15
    """Rule evaluation interval: Prometheus's ``evaluation_interval`` (15 s in
    deploy/prometheus), so ``for: 30s`` waits as long as it does in production."""
    workers: int = 2
    horizon_seconds: float = DEFAULT_HORIZON
    reorder_seconds: float = 1800.0
    stale_after_seconds: float = 300.0
    policy: Policy = field(default_factory=Policy)
    work_dir: Path | None = None
    """Keep the OpenMetrics files and the TSDB here (default: a temporary directory)."""


@dataclass
class BacktestResult:
    report: dict[str, Any]
    text: str
    hourly: list[int]
    timings: dict[str, float]


def _merge(results: list[PartitionResult]) -> HistoryStats:
    merged = HistoryStats()
    for result in results:
        stats = result.stats
        merged.lines += stats.lines
        merged.statuses += stats.statuses
        merged.transactions += stats.transactions
        merged.skipped += stats.skipped
        merged.gaps += stats.gaps
        for kind, count in stats.counts.items():
            merged.counts[kind] = merged.counts.get(kind, 0) + count
        merged.problems += stats.problems
    merged.problems = sorted(merged.problems, key=lambda p: p.line)[:MAX_LISTED]
    return merged


def run_backtest(
    trace: Path,
    config: PosfleetConfig,
    ground_truth: Path | None,
    options: BacktestOptions,
    progress: Callable[[str], None] = lambda _message: None,
) -> BacktestResult:
    """Replay ``trace`` and evaluate it (see :func:`evaluate_replay`)."""
    started = time.monotonic()
    rules = load_rules(options.rules)
    temporary = options.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="posfleet-backtest-")) if temporary else options.work_dir
    assert work is not None
    backfill: OpenMetricsBackfill | None = None
    try:
        om_dir = work / "openmetrics"
        if om_dir.exists():
            shutil.rmtree(om_dir)
        backfill = OpenMetricsBackfill(
            _fresh_data_dir(work), jobs=options.workers, progress=progress
        )
        progress(f"replaying {trace} ({options.workers} workers)")
        results = replay(
            trace,
            config,
            rules.raw_metrics & PRODUCIBLE,
            om_dir,
            replay_options(options, rules.range_metrics),
            workers=options.workers,
            report=progress,
            on_file=backfill.add,
        )
        replayed = time.monotonic() - started
        result = evaluate_replay(
            results, trace.name, work, ground_truth, options, progress, backfill
        )
        result.timings = {"replay": replayed, **result.timings}
        return result
    finally:
        if backfill is not None:
            backfill.close()
        if temporary:
            shutil.rmtree(work, ignore_errors=True)


def _fresh_data_dir(work: Path) -> Path:
    """An empty ``work/prometheus/data`` (the TSDB of the temporary Prometheus)."""
    data_dir = work / "prometheus" / "data"
    if data_dir.parent.exists():
        shutil.rmtree(data_dir.parent)
    data_dir.mkdir(parents=True)
    return data_dir


def replay_options(options: BacktestOptions, dense: frozenset[str]) -> ReplayOptions:
    return ReplayOptions(
        options.step_seconds, options.stale_after_seconds, options.reorder_seconds, dense
    )


def evaluate_replay(
    results: list[PartitionResult],
    history_name: str,
    work: Path,
    ground_truth: Path | None,
    options: BacktestOptions,
    progress: Callable[[str], None] = lambda _message: None,
    backfill: OpenMetricsBackfill | None = None,
) -> BacktestResult:
    """Backfill the replayed series into a temporary Prometheus, evaluate the alert rules,
    derive the tickets, match them to the episodes and build the report. ``backfill``: the
    one the replay handed its files to as they were completed (default: a new one)."""
    timings: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[name] = now - clock
        clock = now

    rules = load_rules(options.rules)
    step = options.step_seconds
    interval = options.evaluation_interval_seconds
    if backfill is None:
        backfill = OpenMetricsBackfill(
            _fresh_data_dir(work), jobs=options.workers, progress=progress
        )
    stats = _merge(results)
    steps = [(r.first_step, r.last_step) for r in results if r.first_step is not None]
    if not steps:
        raise ValueError(f"{history_name}: no usable history lines ({stats.skipped} skipped)")
    start = min(first for first, _ in steps if first is not None) * step
    end = max(last for _, last in steps if last is not None) * step
    backfill.finish(sorted(path for r in results for path in r.files))
    lap("backfill")
    with TemporaryPrometheus(work / "prometheus") as prometheus:
        prometheus.backfill_rules(
            rules.recording_layers, start, end, interval, progress, jobs=options.workers
        )
        lap("recording_rules")
        done = [0]

        def query(index: int) -> Any:
            result = prometheus.query_range(rules.alerts[index].expr, start, end, interval)
            done[0] += 1
            progress(f"evaluating alert rules: {done[0]}/{len(rules.alerts)}")
            return result

        with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
            series = list(pool.map(query, range(len(rules.alerts))))
    lap("alert_rules")
    fired = evaluate(rules.alerts, series, interval, end)
    opened = tickets(fired, end, options.policy)
    truth: GroundTruth | None = None
    if ground_truth is not None:
        truth = read_ground_truth_file(ground_truth, stats)
        episodes: list[Episode] = truth.episodes
        source = f"simulator ground truth ({ground_truth.name})"
    else:
        episodes = sorted(
            (e for r in results for e in r.episodes),
            key=lambda e: (e.first_failure, e.store, e.terminal, e.component),
        )
        source = "transaction errors (inferred: 3+ failures of one component, gaps <= 30 min)"
    # The ground truth may run past the history (or start before it): only episodes whose
    # first failure falls in the replayed period can be judged.
    episodes = [e for e in episodes if start <= e.first_failure <= end]
    analysis = analyse(
        opened, episodes, truth.faults if truth else None, options.horizon_seconds, end
    )
    terminal_days = sum(r.terminal_seconds for r in results) / 86400.0
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "history": {
            "file": history_name,
            "from": iso(start),
            "to": iso(end),
            "terminals": sum(r.terminals for r in results),
            "terminal_days": terminal_days,
            **stats.as_json(),
        },
        "episodes_from": source,
        "evaluation_interval_seconds": interval,
        "scrape_interval_seconds": step,
        "horizon_seconds": options.horizon_seconds,
        "bridge": {
            "close_grace_seconds": options.policy.close_grace.total_seconds(),
            "reopen_window_seconds": options.policy.reopen_window.total_seconds(),
        },
        "rules": {
            "files": [str(path) for path in rule_files(options.rules)],
            "alert_rules": len(rules.alerts),
            "recording_rules": sum(len(layer) for layer in rules.recording_layers),
            "inputs_not_in_history": sorted(rules.raw_metrics - PRODUCIBLE),
        },
        "figures": figures(analysis, terminal_days),
        "tickets": [ticket_json(t) for t in opened],
        "episodes": [episode_json(m) for m in analysis.matches],
    }
    text = table(report)
    lap("report")
    return BacktestResult(report, text, by_hour(analysis.openings, start, end), timings)
