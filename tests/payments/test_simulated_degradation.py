"""End to end on the simulator: network degradation makes sales time out; exactly those
without a confirmed reversal become cases; a reconciliation file closes them, and importing
it again changes nothing."""

from __future__ import annotations

import io
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from posfleet.payments.cases import CaseEngine
from posfleet.payments.config import PaymentsSettings, ReconcileSettings
from posfleet.payments.model import CaseKind, CaseStatus
from posfleet.payments.reconcile import read_rows, reconcile
from posfleet.simulator.clock import ManualClock
from posfleet.simulator.scenario import ScriptedFault
from posfleet.telemetry import TransactionEvent
from tests.payments.support import RecordingTickets, make_engine
from tests.simulator.helpers import HOUR, START, make_fleet

STEP = 60.0
GRACE = 900.0
END = START + 5 * HOUR


def first_sweep_at_or_after(moment: float) -> float:
    return START + math.ceil((moment - START) / STEP) * STEP


async def run_degraded_fleet(
    tmp_path: Path, tickets: RecordingTickets
) -> tuple[list[TransactionEvent], list[dict[str, Any]], CaseEngine]:
    probe = make_fleet(terminals=40, stores=5, record_all=False)
    degraded = [terminal.spec for terminal in probe.terminals[:10]]
    scripted = [
        ScriptedFault(START + 300, "network_degraded", spec.id, 2 * HOUR, ("faults", index))
        for index, spec in enumerate(degraded)
    ]
    scripted.append(
        ScriptedFault(START + HOUR, "uplink_down", degraded[0].store.id, HOUR, ("faults", 99))
    )
    fleet = make_fleet(terminals=40, stores=5, scripted=scripted, record_all=False)
    clock = ManualClock(START)
    engine = make_engine(
        tmp_path,
        lambda: datetime.fromtimestamp(clock.now(), UTC),
        tickets=tickets,
        settings=PaymentsSettings(reversal_grace_seconds=GRACE, duplicate_window_seconds=600),
    )
    events: list[TransactionEvent] = []
    truth: list[dict[str, Any]] = []
    while fleet.now < END:
        fleet.advance_to(fleet.now + STEP)
        clock.set(fleet.now)
        emitted = fleet.drain()
        truth += emitted.ground_truth
        for _, event in emitted.transactions:
            events.append(event)
            await engine.publish_transaction(event)
        await engine.sweep()
    return events, truth, engine


async def test_cases_open_for_exactly_the_timeouts_without_a_confirmed_reversal(
    tmp_path: Path,
) -> None:
    tickets = RecordingTickets()
    events, truth, engine = await run_degraded_fleet(tmp_path, tickets)
    timeouts = [event for event in events if event.outcome == "timeout"]
    assert len(timeouts) >= 10
    causes = Counter(
        line["fault_kind"] for line in truth
        if line.get("type") == "failed_transaction" and line["outcome"] == "timeout"
    )
    # The degradation made (nearly all of) them time out; weak signals make a few more.
    assert causes["network_degraded"] >= 0.8 * len(timeouts)

    def results(sale: TransactionEvent, state: str) -> list[float]:
        return [
            event.occurred_at.timestamp()
            for event in events
            if event.terminal_id == sale.terminal_id
            and event.transaction_id.startswith(sale.transaction_id + "-R")
            and event.reversal_state == state
        ]

    expected: dict[str, str] = {}
    still_waiting = set()
    for sale in timeouts:
        sweep = first_sweep_at_or_after(sale.occurred_at.timestamp() + GRACE)
        confirmed, failed = results(sale, "confirmed"), results(sale, "failed")
        if confirmed and confirmed[0] <= sweep:
            continue
        if sweep > END and not failed:
            still_waiting.add(sale.transaction_id)  # its deadline is after the run
            continue
        if failed and failed[0] <= sweep:
            expected[sale.transaction_id] = "failed"
        else:
            expected[sale.transaction_id] = "closed" if confirmed else "open"
    cases = {case.sale.transaction_id: case for case in engine.store.list_cases(status=None)}
    assert set(cases) == set(expected)
    assert {item.sale.transaction_id for item in engine.tracker.waiting()} == still_waiting
    assert 0 < len(expected) < len(timeouts)  # some reversed in time, some not
    for transaction_id, fate in expected.items():
        case = cases[transaction_id]
        if fate == "failed":
            assert case.kind is CaseKind.REVERSAL_FAILED
        else:
            assert case.kind is not CaseKind.REVERSAL_FAILED
            assert case.status is (CaseStatus.CLOSED if fate == "closed" else CaseStatus.OPEN)
    opened = Counter(case_id for case_id, firing in tickets.sent if firing)
    assert set(opened) == {case.case_id for case in cases.values()}
    assert set(opened.values()) == {1}  # one urgent ticket per case

    # The acquirer's file: the open cases' sales were reversed; one more line for a sale
    # posfleet has no case for; one line that does not parse.
    still_open = [case for case in cases.values() if case.status is CaseStatus.OPEN]
    assert still_open
    lines = ["terminal_id,stan,rrn,amount,currency,status"]
    for case in still_open:
        facts = case.sale
        lines.append(
            f"{facts.terminal_id},{facts.stan},{facts.rrn or ''},"
            f"{facts.amount_minor // 100}.{facts.amount_minor % 100:02d},{facts.currency},"
            "REVERSED"
        )
    lines += ["T-0001,999999,,1.00,EUR,settled", "T-0001,12,,1.00,EUR,settled"]
    text = "\n".join(lines) + "\n"
    settings = ReconcileSettings()
    now = datetime.fromtimestamp(START + 6 * HOUR, UTC)
    store = engine.store
    first = reconcile(store, read_rows(io.StringIO(text), settings), "settlement.csv", now)
    assert sorted(first.closed) == sorted(case.case_id for case in still_open)
    assert first.unmatched == 1
    assert [(error.line, error.message) for error in first.errors] == [
        (len(lines), "stan: must be 6 digits")
    ]
    snapshot = [store.get(case.case_id) for case in cases.values()]
    second = reconcile(store, read_rows(io.StringIO(text), settings), "settlement.csv", now)
    assert second.closed == []
    assert second.noted == []
    assert second.unchanged == len(still_open)
    assert [store.get(case.case_id) for case in cases.values()] == snapshot
    assert store.list_cases(status=CaseStatus.OPEN) == []
    await engine.deliver_due_tickets()
    resolved = [case_id for case_id, firing in tickets.sent if not firing]
    # Every case is closed now (by late confirmations or the file): every ticket resolved once.
    assert sorted(resolved) == sorted(case.case_id for case in cases.values())
