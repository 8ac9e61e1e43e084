"""Benchmark: the collector polling fake HTTP terminals.

A fake terminal server runs in a separate process (aiohttp, canned snapshots for any
``/terminals/<id>/status``); the collector runs in this process, on one core (one event
loop). Measured:

1. 10,000 terminals at a 15 s interval for ~60 s: p99 scheduling lag per 15 s window
   (target < 1 s) and memory per terminal, RSS delta / terminals (target < 20 KiB).
2. Polls per second at full speed (2,000 terminals, interval ~0): median of a few runs
   (target >= 2,000/s).

Run: ``python bench/collector_http.py`` (about 2 minutes; ``--quick`` for about 30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import statistics
import time
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from aiohttp import web

from posfleet.collector.app import CollectorApp
from posfleet.collector.sink import MemorySink
from posfleet.config.models import PosfleetConfig
from posfleet.telemetry.docs import EXAMPLE_STATUS

TOKEN = "bench-token"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# --- fake terminal server (child process) ---------------------------------------------------


def _serve(pipe: Connection) -> None:
    template = json.dumps(dict(EXAMPLE_STATUS, terminal_id="__ID__")).encode()

    async def status(request: web.Request) -> web.Response:
        body = template.replace(b"__ID__", request.match_info["terminal"].encode())
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/terminals/{terminal}/status", status)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=4096).start()
        pipe.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


def start_server() -> tuple[BaseProcess, int]:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,))
    process.daemon = True
    process.start()
    if not parent.poll(30):
        process.kill()
        raise RuntimeError("fake terminal server did not start")
    port: int = parent.recv()
    return process, port


# --- collector side ----------------------------------------------------------------------------


def fleet(port: int, terminals: int, **collector: Any) -> PosfleetConfig:
    per_store = 10
    stores = [
        {
            "id": f"S-{store}",
            "merchant": "acme",
            "name": f"Store {store}",
            "region": "bench",
            "terminals": [
                {
                    "id": f"T-{number}",
                    "driver": "http",
                    "connection": {
                        "url": f"http://127.0.0.1:{port}/terminals/T-{number}/status",
                        "token_env": "BENCH_TOKEN",
                    },
                }
                for number in range(store * per_store, min((store + 1) * per_store, terminals))
            ],
        }
        for store in range((terminals + per_store - 1) // per_store)
    ]
    return PosfleetConfig(
        merchants=[{"id": "acme", "name": "ACME"}],
        stores=stores,
        collector={"listen": "127.0.0.1:0", **collector},
    )


class CountingSink(MemorySink):
    """Counts snapshots without keeping them (keeping them would be measured as memory)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def publish(self, snapshot: Any) -> None:
        self.count += 1


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


async def run_app(app: CollectorApp, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 30)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0


async def scale_run(port: int, terminals: int, seconds: float) -> dict[str, Any]:
    baseline = rss_bytes()
    config = fleet(port, terminals, interval_seconds=15.0, timeout_seconds=5.0)
    sink = CountingSink()
    app = CollectorApp(config, [sink], environ={"BENCH_TOKEN": TOKEN})
    app.stats.recent_lags = deque(maxlen=None)  # every lag, for per-window p99
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop))
    windows: list[float] = []
    window = 15.0
    started = time.monotonic()
    peak_rss = 0
    while time.monotonic() - started < seconds:
        await asyncio.sleep(window)
        lags = list(app.stats.recent_lags)
        app.stats.recent_lags.clear()
        windows.append(p99(lags))
        peak_rss = max(peak_rss, rss_bytes())
    stop.set()
    await asyncio.wait_for(task, 30)
    polls = sum(app.stats.polls.values())
    errors = sum(app.stats.poll_errors.values())
    return {
        "terminals": terminals,
        "seconds": round(time.monotonic() - started),
        "polls": polls,
        "errors": errors,
        "p99_lag_per_window_s": [round(w, 4) for w in windows],
        "p99_lag_median_s": round(statistics.median(windows), 4),
        "rss_delta_mib": round((peak_rss - baseline) / 2**20, 1),
        "bytes_per_terminal": round((peak_rss - baseline) / terminals),
    }


async def throughput_run(port: int, terminals: int, seconds: float) -> float:
    config = fleet(port, terminals, interval_seconds=0.001, jitter_ratio=0.0)
    app = CollectorApp(config, [CountingSink()], environ={"BENCH_TOKEN": TOKEN})
    warmup = 2.0
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop))
    await asyncio.sleep(warmup)
    before = sum(app.stats.polls.values())
    started = time.monotonic()
    await asyncio.sleep(seconds)
    done = sum(app.stats.polls.values()) - before
    elapsed = time.monotonic() - started
    errors = sum(app.stats.poll_errors.values())
    stop.set()
    await asyncio.wait_for(task, 30)
    if errors:
        print(f"  (warning: {errors} failed polls)")
    return done / elapsed


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


async def main(args: argparse.Namespace) -> None:
    print(f"machine: nproc={os.cpu_count()} cpu={cpu_model()} python={platform.python_version()}")
    server, port = start_server()
    try:
        scale = await asyncio.wait_for(
            scale_run(port, args.terminals, args.scale_seconds), args.scale_seconds + 90
        )
        print(
            f"scale: {scale['terminals']} terminals at 15 s for {scale['seconds']} s: "
            f"{scale['polls']} polls, {scale['errors']} errors"
        )
        print(
            f"  p99 scheduling lag: median {scale['p99_lag_median_s']} s over 15 s windows "
            f"{scale['p99_lag_per_window_s']} (target < 1 s)"
        )
        print(
            f"  memory: RSS +{scale['rss_delta_mib']} MiB = "
            f"{scale['bytes_per_terminal'] / 1024:.1f} KiB per terminal (target < 20 KiB)"
        )
        rates = []
        for _ in range(args.repeats):
            rate = await asyncio.wait_for(
                throughput_run(port, 2000, args.throughput_seconds), args.throughput_seconds + 60
            )
            rates.append(rate)
        print(
            f"throughput: median {statistics.median(rates):.0f} polls/s on one event loop "
            f"(runs: {', '.join(f'{r:.0f}' for r in rates)}; target >= 2000)"
        )
    finally:
        server.kill()
        server.join(5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (about 30 s in all)")
    parser.add_argument("--terminals", type=int, default=10_000)
    arguments = parser.parse_args()
    arguments.scale_seconds = 15.0 if arguments.quick else 60.0
    arguments.throughput_seconds = 3.0 if arguments.quick else 8.0
    arguments.repeats = 1 if arguments.quick else 3
    asyncio.run(main(arguments))
