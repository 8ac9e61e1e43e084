"""Store-and-forward buffer: append and replay rates (target: replay 50,000 points/s).

Each record is one InfluxDB point in line protocol (~40 fields, ~600 bytes), the unit an
output buffers during an outage. Prints the median of three runs and the machine.

    .venv/bin/python bench/buffer_replay.py [--points 300000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from posfleet.exporters.buffer import DiskBuffer

POINT = (
    "pos_status,terminal=T-0451,store=S-012,merchant=acme,region=north "
    + ",".join(f"field_{index}={index}.5" for index in range(40))
    + " 1764067320000000000"
).encode()


def one_run(points: int, batch: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as directory:
        buffer = DiskBuffer(Path(directory), max_bytes=4 * 1024**3)
        started = time.perf_counter()
        for _ in range(points // batch):
            buffer.append([POINT] * batch)
        appended = time.perf_counter() - started
        started = time.perf_counter()
        replayed = 0
        while True:
            got = buffer.read(batch)
            if not got.records:
                break
            replayed += len(got.records)
            buffer.ack(got)
        replay = time.perf_counter() - started
        assert replayed == points // batch * batch
        return replayed / appended, replayed / replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()
    runs = [one_run(args.points, args.batch) for _ in range(3)]
    append_rate = statistics.median(run[0] for run in runs)
    replay_rate = statistics.median(run[1] for run in runs)
    print(f"buffer: {args.points} points of {len(POINT)} bytes, batches of {args.batch}")
    print(f"  append  {append_rate:>12,.0f} points/s (median of 3)")
    print(f"  replay  {replay_rate:>12,.0f} points/s (median of 3; target 50,000)")
    print(f"  ratio to target {replay_rate / 50_000:.1f}x")
    print(
        f"machine: nproc={os.cpu_count()}, {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
