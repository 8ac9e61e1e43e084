"""Payments: classification and case matching throughput, and memory over a day of traffic.

(1) Throughput: the case engine's synchronous hot path (``CaseEngine.observe``: cause
    classification with the per-merchant table, per-terminal and per-operator counting,
    suspect tracking and reversal matching, plus a deadline sweep every simulated minute)
    over a realistic mix for 20,000 terminals: ~93 % approved, issuer refusals, local
    errors, 1 % timeouts whose reversal goes out with the next sale (95 % confirmed, 5 %
    failed), retries of the same card. Median of ``--runs`` (target: 5,000 tx/s per process).
    Writing cases to SQLite is not on this path: a case is one write per ~1,000 sales, done
    in a thread.
(2) Memory: a simulated day of the same traffic for 20,000 terminals (``--per-terminal``
    sales each), resident set size and the tracker's size sampled every simulated hour; the
    tracker must stay bounded (suspects leave at their deadline; activity expires).

    .venv/bin/python bench/payments.py [--events 100000] [--runs 3] [--per-terminal 60]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from posfleet.payments.cases import CaseEngine
from posfleet.payments.classification import Classifier, builtin_table
from posfleet.payments.config import PaymentsSettings
from posfleet.payments.store import CaseStore
from posfleet.telemetry import TransactionEvent
from posfleet.telemetry.transaction import LocalError, Outcome, ReversalState

TERMINALS = 20_000
START = 1_795_593_600.0
REFUSALS = ("51", "05", "55", "54", "61", "91", "96", "13", "Q9")
LOCAL = (LocalError.CARD_READ_ERROR, LocalError.OPERATOR_INPUT_ERROR,
         LocalError.CUSTOMER_CANCELLED, LocalError.HOST_UNREACHABLE)


class Traffic:
    """A stream of transaction events for a fleet, built without validation (the engine
    sees what ingest hands it after validation, so building cost is not measured)."""

    def __init__(self, terminals: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.terminals = terminals
        self.sales = [0] * terminals
        self.stan = [0] * terminals
        self.pending: dict[int, str] = {}

    def _event(self, index: int, at: float, transaction_id: str, outcome: Outcome,
               **fields: object) -> TransactionEvent:
        self.stan[index] = self.stan[index] % 999_999 + 1
        store = index // 5
        values: dict[str, object] = {
            "schema_version": 1,
            "transaction_id": transaction_id,
            "terminal_id": f"T-{index:05d}",
            "merchant_id": "china-mart" if store % 10 == 0 else "acme",
            "store_id": f"S-{store:04d}",
            "operator_id": f"op-{store}-{self.rng.randrange(3)}",
            "occurred_at": datetime.fromtimestamp(at, UTC),
            "amount_minor": 0,
            "currency": "EUR",
            "outcome": outcome,
            "host_response_code": None,
            "local_error": None,
            "reversal_state": None,
            "stan": f"{self.stan[index]:06d}",
            "rrn": None,
            "masked_pan": None,
            "entry_mode": None,
        }
        values.update(fields)
        return TransactionEvent.model_construct(**values)  # type: ignore[arg-type]

    def sale(self, at: float) -> Iterator[TransactionEvent]:
        rng = self.rng
        index = rng.randrange(self.terminals)
        self.sales[index] += 1
        sale_id = f"T-{index:05d}-{self.sales[index]:06d}"
        original = self.pending.pop(index, None)
        if original is not None:
            if rng.random() < 0.95:
                yield self._event(index, at, f"{original}-R1", Outcome.REVERSED,
                                  host_response_code="00", reversal_state=ReversalState.CONFIRMED)
            else:
                yield self._event(index, at, f"{original}-R3", Outcome.FAILED,
                                  local_error=LocalError.NETWORK_DOWN,
                                  reversal_state=ReversalState.FAILED)
        card = f"625800******{rng.randrange(10_000):04d}"
        amount = rng.randrange(100, 50_000)
        draw = rng.random()
        if draw < 0.01:
            self.pending[index] = sale_id
            yield self._event(index, at, sale_id, Outcome.TIMEOUT, amount_minor=amount,
                              local_error=LocalError.NETWORK_TIMEOUT,
                              reversal_state=ReversalState.PENDING, masked_pan=card)
            if rng.random() < 0.3:  # the cashier tries the same card again
                yield self._event(index, at + 40, f"{sale_id}-retry", Outcome.APPROVED,
                                  amount_minor=amount, host_response_code="00", masked_pan=card)
        elif draw < 0.05:
            yield self._event(index, at, sale_id, Outcome.DECLINED, amount_minor=amount,
                              host_response_code=rng.choice(REFUSALS), masked_pan=card)
        elif draw < 0.07:
            yield self._event(index, at, sale_id, Outcome.FAILED, amount_minor=amount,
                              local_error=rng.choice(LOCAL))
        else:
            yield self._event(index, at, sale_id, Outcome.APPROVED, amount_minor=amount,
                              host_response_code="00", rrn=f"{index:06d}{self.stan[index]:06d}",
                              masked_pan=card)


def make_engine(directory: Path) -> CaseEngine:
    settings = PaymentsSettings(database=str(directory / "cases.sqlite3"))
    classifier = Classifier(builtin_table("iso8583"), {"china-mart": builtin_table("cup")})
    store = CaseStore.open(settings.database)
    return CaseEngine(settings, store, classifier,
                      regions={f"S-{s:04d}": "eu" for s in range(TERMINALS // 5)})


def throughput(events: list[TransactionEvent], directory: Path) -> tuple[float, int]:
    engine = make_engine(directory)
    observe, due = engine.observe, engine.tracker.due
    cases = 0
    next_sweep = START + 60
    gc.collect()
    began = time.perf_counter()
    for event in events:
        at = event.occurred_at.timestamp()
        if at >= next_sweep:
            cases += len(due(at))
            next_sweep = at + 60
        cases += len(observe(event))
    elapsed = time.perf_counter() - began
    engine.store.dispose()
    return len(events) / elapsed, cases


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def day_of_traffic(per_terminal: int, directory: Path) -> None:
    engine = make_engine(directory)
    traffic = Traffic(TERMINALS, seed=11)
    total = per_terminal * TERMINALS
    step = 86_400 / total
    at = START
    hour = START + 3600
    began = time.perf_counter()
    events = cases = 0
    print(f"(2) a day of traffic: {TERMINALS} terminals, {total:,} sales")
    print("    hour  events      RSS MiB  suspects waiting  terminals tracked  operators")
    for _ in range(total):
        at += step
        for event in traffic.sale(at):
            events += 1
            cases += len(engine.observe(event))
        if at >= hour:
            cases += len(engine.tracker.due(at))
            engine.findings.prune(datetime.fromtimestamp(at, UTC))
            print(
                f"    {int((hour - START) / 3600):4d}  {events:>10,}  {rss_bytes() / 2**20:8.1f}  "
                f"{len(engine.tracker):16d}  {engine.tracker.terminals_tracked:17d}  "
                f"{len(engine.findings):9d}"
            )
            hour += 3600
    elapsed = time.perf_counter() - began
    print(f"    {events:,} events in {elapsed:.1f} s ({events / elapsed:,.0f} tx/s), "
          f"{cases:,} cases; waiting at the end: {len(engine.tracker)}")
    engine.store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-terminal", type=int, default=60)
    args = parser.parse_args()
    print(f"machine: nproc={os.cpu_count()}, {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}")
    traffic = Traffic(TERMINALS)
    spacing = 86_400 / args.events
    events = [event for n in range(args.events) for event in traffic.sale(START + n * spacing)]
    rates = []
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "day").mkdir()
        for run in range(args.runs):
            rate, cases = throughput(events, Path(tmp) / f"run{run}")
            rates.append(rate)
            print(f"    run {run + 1}: {rate:,.0f} tx/s ({cases} cases)")
        median = statistics.median(rates)
        print(f"(1) classification + case matching: median {median:,.0f} tx/s over "
              f"{len(events):,} events (target 5,000: {'met' if median >= 5000 else 'MISSED'})")
        day_of_traffic(args.per_terminal, Path(tmp) / "day")
    asyncio.run(asyncio.sleep(0))


if __name__ == "__main__":
    main()
