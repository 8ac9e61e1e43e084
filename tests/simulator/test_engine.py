"""The fleet model: deterministic traces, consistent ground truth, paper physics."""

from __future__ import annotations

from datetime import datetime

from posfleet.simulator.fleet import FleetParameters, generate_fleet
from posfleet.simulator.paper import PaperRoll
from posfleet.simulator.scenario import ScriptedFault
from posfleet.telemetry import PaperState, StatusSnapshot, TransactionEvent
from tests.simulator.helpers import HOUR, START, ground_truth, make_fleet, parse, run, trace


def _time(value: object) -> float:
    assert isinstance(value, str)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_same_seed_gives_the_same_hour_of_status_and_transactions() -> None:
    first = trace(run(make_fleet(50, seed=7), HOUR))
    second = trace(run(make_fleet(50, seed=7), HOUR, step=17.0))  # sliced differently
    kinds = {line["type"] for line in parse(first)}
    assert kinds == {"status", "transaction"}
    assert sorted(first) == sorted(second)


def test_different_seed_gives_a_different_run() -> None:
    assert trace(run(make_fleet(50, seed=7), HOUR)) != trace(run(make_fleet(50, seed=8), HOUR))


def test_adding_terminals_leaves_existing_terminals_unchanged() -> None:
    small = generate_fleet(FleetParameters(terminals=20, stores=10, seed=3))
    large = generate_fleet(FleetParameters(terminals=200, stores=10, seed=3))
    assert small.terminals == large.terminals[:20]


def test_every_line_of_the_trace_is_valid_telemetry() -> None:
    for line in parse(trace(run(make_fleet(30), HOUR))):
        kind = line.pop("type")
        model = StatusSnapshot if kind == "status" else TransactionEvent
        model.model_validate(line)


def test_failed_transactions_lie_inside_their_fault_and_scope() -> None:
    # A busy fleet over a day, so many kinds of fault and failure occur.
    fleet = make_fleet(200, seed=11, record_all=False)
    lines = ground_truth(run(fleet, 24 * HOUR, step=600.0), fleet)
    faults = {line["id"]: line for line in lines if line["type"] == "fault"}
    failures = [line for line in lines if line["type"] == "failed_transaction"]
    attributed = [line for line in failures if line["fault_id"] is not None]
    assert len(attributed) > 20
    assert any(line["fault_id"] is None for line in failures)  # issuer refusals and the like
    for failure in attributed:
        fault = faults[failure["fault_id"]]
        at = _time(failure["occurred_at"])
        assert _time(fault["start"]) <= at
        assert fault["end"] is None or at <= _time(fault["end"])
        for scope in ("terminal_id", "store_id", "merchant_id"):
            assert fault[scope] is None or fault[scope] == failure[scope]
        assert failure["fault_kind"] == fault["kind"]


def test_near_end_comes_before_paper_out_and_a_new_roll_resets_it() -> None:
    fleet = make_fleet(10, seed=5, record_all=False)
    terminal = next(t for t in fleet.terminals if t.printer is not None)
    assert terminal.printer is not None
    terminal.printer.roll = PaperRoll(remaining_m=3.0, near_end_at_m=2.0)
    seen: list[PaperState] = []
    at = fleet.now
    while terminal.printer.roll.state is not PaperState.OUT:
        at += 1.0
        terminal.printer_faults(terminal.printer.print_receipt(terminal.rng, at, 0.3), at)
        if not seen or seen[-1] is not terminal.printer.roll.state:
            seen.append(terminal.printer.roll.state)
    assert seen == [PaperState.OK, PaperState.NEAR_END, PaperState.OUT]
    assert "paper_out" in terminal.faults
    repair = terminal.repairs["paper_out"]
    terminal.tick(repair, 60.0)
    assert "paper_out" not in terminal.faults
    assert terminal.paper() is PaperState.OK
    assert terminal.printer.roll.remaining_m >= 40.0


def test_paper_out_fails_sales_with_printer_paper_out() -> None:
    fleet = make_fleet(50, seed=2, record_all=False)
    terminal = next(t for t in fleet.terminals if t.printer is not None and t.battery is None)
    scripted = ScriptedFault(START + 60, "paper_out", terminal.spec.id, 2 * HOUR, ("faults", 0))
    fleet = make_fleet(50, seed=2, scripted=[scripted], record_all=False)
    batches = run(fleet, 2 * HOUR)
    events = [e for b in batches for spec, e in b.transactions if spec.id == terminal.spec.id]
    after = [e for e in events if e.occurred_at.timestamp() > START + 60]
    assert after
    assert all(e.local_error == "printer_paper_out" for e in after if e.reversal_state is None)
