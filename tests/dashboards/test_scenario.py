"""The scripted run of test_queries.py produces, on the fleet model alone (no servers, no
clock), every event the dashboards' event-driven panels need, early enough.

The model is deterministic for a seed, so what happens here happens in the live run too; if
a change to the simulator moves these events, this test says which one went missing instead
of a panel query timing out in test_queries.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from posfleet.simulator.engine import Emitted, Fleet
from posfleet.simulator.fleet import generate_fleet
from posfleet.telemetry import PaperState
from posfleet.telemetry.transaction import LocalError, ReversalState
from tests.dashboards.test_queries import START, Plan, _scenario

WITHIN_MINUTES = 15
"""Simulated minutes (real seconds at the run's speed) by which every event has happened."""
STEP_SECONDS = 5.0


@pytest.fixture(scope="module")
def plan() -> Plan:
    return _scenario()


def _run(plan: Plan) -> Iterator[tuple[float, Emitted]]:
    """What the fleet emits, step by step, with the simulated minutes since the start."""
    scenario = plan.scenario
    start = START.timestamp()
    fleet = Fleet(generate_fleet(scenario.parameters()), start,
                  scripted=scenario.scripted_faults(),
                  status_interval=scenario.status_interval_seconds)
    now = start
    while now < start + WITHIN_MINUTES * 60:
        now += STEP_SECONDS
        fleet.advance_to(now)
        yield (now - start) / 60, fleet.drain()


@pytest.fixture(scope="module")
def events(plan: Plan) -> dict[str, float]:
    """First simulated minute of each event the panels need, in the focus store."""
    store, focus = plan.values["store"], plan.values["terminal"]
    first: dict[str, float] = {}
    pending: dict[str, float] = {}
    previous_paper: PaperState | None = None
    previous_lines: int | None = None
    printed = False
    for minute, emitted in _run(plan):
        for spec, event in emitted.transactions:
            if spec.store.id != store or spec.driver != "mqtt":
                continue  # HTTP terminals do not push transactions
            if event.local_error is LocalError.OPERATOR_INPUT_ERROR:
                first.setdefault("operator input error", minute)
            if event.host_response_code in ("91", "96"):
                first.setdefault("gateway outage decline", minute)
            state = event.reversal_state
            if state is ReversalState.PENDING:
                pending[event.transaction_id] = minute
            elif state is ReversalState.CONFIRMED:
                first.setdefault("confirmed reversal", minute)
            elif state is ReversalState.FAILED:
                first.setdefault("failed reversal", minute)
            if state in (ReversalState.CONFIRMED, ReversalState.FAILED):
                since = pending.pop(event.transaction_id.rsplit("-R", 1)[0], minute)
                if minute - since >= 2.0:
                    first.setdefault("reversal pending two minutes", minute)
        for spec, snapshot in emitted.statuses:
            printer = snapshot.printer
            if spec.id != focus or printer is None:
                continue
            lines = printer.receipt_lines_printed_total
            if previous_lines is not None and lines is not None and lines > previous_lines:
                printed = True
            if (printer.paper is PaperState.NEAR_END and previous_paper is PaperState.OK
                    and printed and minute >= 3):
                first.setdefault("paper near end after printing", minute)
            previous_paper, previous_lines = printer.paper, lines
        for line in emitted.ground_truth:
            if line["type"] == "fault" and line["kind"] == "paper_out" and line["end"]:
                first.setdefault("paper out over", minute)
    for since in pending.values():
        if since <= WITHIN_MINUTES - 2:
            first.setdefault("reversal pending two minutes", since + 2)
    return first


@pytest.mark.parametrize(
    "event",
    [
        "operator input error",
        "gateway outage decline",
        "confirmed reversal",
        "failed reversal",
        # Two simulated minutes: two scrapes of the open reversal at the run's speed.
        "reversal pending two minutes",
        "paper near end after printing",
        "paper out over",
    ],
)
def test_the_scripted_run_produces(events: dict[str, float], event: str) -> None:
    assert event in events, f"no {event} within {WITHIN_MINUTES} simulated minutes: {events}"


def test_the_rebooting_terminal_is_polled_and_does_not_answer(plan: Plan) -> None:
    scenario = plan.scenario
    start = START.timestamp()
    fleet = Fleet(generate_fleet(scenario.parameters()), start,
                  scripted=scenario.scripted_faults())
    terminal = fleet.by_id[plan.unreachable]
    assert terminal.spec.driver == "http"
    assert plan.unreachable != plan.values["terminal"]
    fleet.advance_to(start + 60)
    assert fleet.snapshot(plan.unreachable) is not None
    fleet.advance_to(start + 5 * 60)
    assert fleet.snapshot(plan.unreachable) is None  # the status server answers 503
