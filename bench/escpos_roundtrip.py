"""Round-trip time of a full ESC/POS status poll (DLE EOT 1..4) over a pseudo-terminal.

Runs the real escpos driver against the simulated printer and prints the median and p99
time of one ``read()`` (four request/answer pairs plus the hop to the worker thread), and
the machine it ran on. Usage: ``/tmp/venv/bin/python bench/escpos_roundtrip.py [N]``.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import time

from posfleet.collector.drivers.escpos.config import EscposSettings
from posfleet.collector.drivers.escpos.driver import EscposDriver
from posfleet.simulator.escpos_device import EscposPrinterDevice
from posfleet.telemetry import PaperState, PrinterStatus

DEFAULT_POLLS = 500
WARM_UP_POLLS = 20


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(polls: int) -> list[float]:
    status = PrinterStatus(online=True, paper=PaperState.OK, cover_open=False)
    with EscposPrinterDevice(lambda: status) as device:
        driver = EscposDriver(EscposSettings(port=device.port_path, response_timeout_seconds=2))
        for _ in range(WARM_UP_POLLS):
            await driver.read()
        samples = []
        for _ in range(polls):
            started = time.perf_counter()
            await driver.read()
            samples.append(time.perf_counter() - started)
        driver.close()
    return samples


def main() -> None:
    polls = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_POLLS
    samples = asyncio.run(measure(polls))
    print(f"escpos full status poll (4 x DLE EOT) over a pty, {polls} polls")
    print(f"  median {statistics.median(samples) * 1000:.3f} ms")
    print(f"  p99    {percentile(samples, 0.99) * 1000:.3f} ms")
    print(f"  max    {max(samples) * 1000:.3f} ms")
    print(f"machine: nproc={os.cpu_count()}, cpu={cpu_model()}, python={platform.python_version()}")


if __name__ == "__main__":
    main()
