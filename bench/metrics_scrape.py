"""Scrape of /metrics for 10,000 terminals with full snapshots (target: under 1 s).

Times the cached renderer on a first scrape (empty cache), on a scrape where nothing
changed, and after 10% of the snapshots changed; then prometheus_client's generate_latest
over the custom collector for comparison. Prints medians, series, bytes, the cache's memory
per terminal, and the machine.

    .venv/bin/python bench/metrics_scrape.py [--terminals 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from posfleet.collector.driver import Reading
from posfleet.collector.state import FleetState, TerminalIdentity
from posfleet.exporters.prometheus.collector import TerminalCollector
from posfleet.exporters.prometheus.docs import FULL_STATUS
from posfleet.exporters.prometheus.render import TerminalExposition
from posfleet.telemetry import StatusSnapshot
from posfleet.telemetry.base import TelemetryModel

COMPONENTS = ("printer", "screen", "card_reader", "qr_scanner", "network", "firmware", "system")
SEEN = datetime(2026, 11, 25, 10, 42, tzinfo=UTC)


def reading(lines_printed: int) -> Reading:
    status = dict(FULL_STATUS)
    status["printer"] = dict(FULL_STATUS["printer"], receipt_lines_printed_total=lines_printed)
    snapshot = StatusSnapshot.model_validate(status)
    parts: dict[str, TelemetryModel] = {
        name: part for name in COMPONENTS if (part := getattr(snapshot, name)) is not None
    }
    return Reading(snapshot.observed_at, parts)


def build_fleet(count: int) -> FleetState:
    state = FleetState("edge-bench", offline_after_failures=3)
    for index in range(count):
        identity = TerminalIdentity(
            f"T-{index:05d}", f"m{index % 7}", f"S-{index // 4:05d}", f"r{index % 5}", f"SN{index}"
        )
        state.add_terminal(identity, [("http", "http")])
        state.record_success(identity.terminal_id, 0, reading(index), SEEN)
    return state


def timed(action: Callable[[], bytes], runs: int) -> tuple[float, bytes]:
    durations = []
    body = b""
    for _ in range(runs):
        started = time.perf_counter()
        body = action()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), body


def change_tenth(state: FleetState, count: int, round_: int) -> None:
    changed = reading(1_000_000 + round_)
    for index in range(0, count, 10):
        state.record_success(
            f"T-{index + round_ % 10:05d}", 0, changed, SEEN + timedelta(seconds=round_)
        )


def cache_bytes_per_terminal(exposition: TerminalExposition, terminals: int) -> float:
    cache = exposition._cache  # the benchmark looks inside on purpose
    total = sum(
        sys.getsizeof(entry)
        + sys.getsizeof(entry.chunks)
        + sum(sys.getsizeof(chunk) for chunk in entry.chunks)
        for entry in cache.values()
    )
    return total / terminals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--terminals", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    state = build_fleet(args.terminals)

    def first_render() -> bytes:
        return TerminalExposition(state.terminals).render_current()

    first, body = timed(first_render, args.runs)
    exposition = TerminalExposition(state.terminals)
    exposition.render_current()
    unchanged, _ = timed(exposition.render_current, args.runs)

    rounds = iter(range(1_000))

    def after_change() -> bytes:
        change_tenth(state, args.terminals, next(rounds))
        return exposition.render_current()

    changed, _ = timed(after_change, args.runs)
    rendered_again = exposition.last.rendered

    def warm_then_scrape() -> tuple[float, float]:
        # What the collector does: keep_warm renders changes in the background, then a
        # scrape joins text that is already built.
        change_tenth(state, args.terminals, next(rounds))
        started = time.perf_counter()
        exposition.refresh(list(state.terminals()))
        warmed = time.perf_counter()
        exposition.render_current()
        return warmed - started, time.perf_counter() - warmed

    warm_runs = [warm_then_scrape() for _ in range(args.runs)]
    background = statistics.median(run[0] for run in warm_runs)
    warm_scrape = statistics.median(run[1] for run in warm_runs)

    registry = CollectorRegistry()
    registry.register(TerminalCollector(state.terminals))
    slow, slow_body = timed(lambda: generate_latest(registry), max(1, args.runs // 2))
    assert slow_body == exposition.render_current(), "the fast path drifted from the collector"

    series = sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))
    print(f"/metrics scrape, {args.terminals:,} terminals with full snapshots")
    print(f"  series              {series:>12,} ({series / args.terminals:.0f} per terminal)")
    print(f"  body                {len(body) / 1e6:>12.1f} MB")
    print(f"  first scrape        {first * 1000:>10.0f} ms (median of {args.runs}, empty cache)")
    print(f"  nothing changed     {unchanged * 1000:>10.0f} ms (median of {args.runs})")
    print(
        f"  10% changed         {changed * 1000:>10.0f} ms (median of {args.runs}; "
        f"{rendered_again:,} terminals rendered again)"
    )
    print(
        f"  scrape, kept warm   {warm_scrape * 1000:>10.0f} ms (median of {args.runs}; "
        f"10% changed, rendered in the background in {background * 1000:.0f} ms first)"
    )
    print(f"  generate_latest     {slow * 1000:>10.0f} ms (prometheus_client over the collector)")
    print(f"  target              {1000:>10.0f} ms -> 10% changed is {1 / changed:.1f}x faster")
    print(
        f"  cache memory        {cache_bytes_per_terminal(exposition, args.terminals):>10.0f} "
        "bytes per terminal"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


if __name__ == "__main__":
    main()
