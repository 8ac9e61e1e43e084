"""The case engine: which suspect sales become cases, how they close, their tickets, and
that memory stays bounded."""

from __future__ import annotations

from pathlib import Path

from posfleet.payments.config import PaymentsSettings
from posfleet.payments.model import CaseKind, CaseStatus, HistoryKind, case_id_of
from tests.payments.support import (
    Clock,
    RecordingTickets,
    event,
    make_engine,
    reversal,
    timeout,
)


async def test_a_reversal_confirmed_in_time_opens_no_case(tmp_path: Path) -> None:
    clock = Clock()
    engine = make_engine(tmp_path, clock)
    await engine.publish_transaction(timeout("T-1-000001"))
    await engine.publish_transaction(reversal("T-1-000001", seconds=120))
    clock.seconds = 3600
    await engine.sweep()
    assert engine.store.list_cases(status=None) == []
    assert len(engine.tracker) == 0


async def test_no_confirmation_by_the_deadline_opens_one_case_with_one_ticket(
    tmp_path: Path,
) -> None:
    clock, tickets = Clock(), RecordingTickets()
    engine = make_engine(tmp_path, clock, tickets=tickets)
    await engine.publish_transaction(timeout("T-1-000001", rrn="633012345678"))
    clock.seconds = 899
    await engine.sweep()
    assert engine.store.list_cases() == []
    clock.seconds = 900
    await engine.sweep()
    await engine.sweep()
    [case] = engine.store.list_cases()
    assert case.kind is CaseKind.REVERSAL_PENDING_IDLE  # the terminal sent nothing since
    assert case.case_id == case_id_of("T-1", "T-1-000001")
    assert (case.sale.stan, case.sale.rrn, case.sale.masked_pan) == (
        "000812", "633012345678", "476173******0010",
    )
    assert tickets.sent == [(case.case_id, True)]
    assert engine.stats.open_cases == {("S-1", "acme", "eu-west", "reversal_pending_idle"): 1}


async def test_a_late_confirmation_closes_the_case_and_resolves_its_ticket(
    tmp_path: Path,
) -> None:
    clock, tickets = Clock(), RecordingTickets()
    engine = make_engine(tmp_path, clock, tickets=tickets)
    await engine.publish_transaction(timeout("T-1-000001"))
    await engine.publish_transaction(event("T-1-000002", seconds=30, host_response_code="00"))
    clock.seconds = 1000
    await engine.sweep()
    [opened] = engine.store.list_cases()
    assert opened.kind is CaseKind.REVERSAL_UNCONFIRMED  # the terminal kept working
    await engine.publish_transaction(reversal("T-1-000001", seconds=1100, attempt=2))
    case = engine.store.get(opened.case_id)
    assert case is not None
    assert case.status is CaseStatus.CLOSED
    assert case.close_reason == "reversal_confirmed"
    assert [entry.kind for entry in case.history] == [
        HistoryKind.SALE,
        HistoryKind.REVERSAL_ATTEMPT,  # the pending state reported with the sale
        HistoryKind.OPENED,
        HistoryKind.REVERSAL_ATTEMPT,
        HistoryKind.CLOSED,
    ]
    assert tickets.sent == [(case.case_id, True), (case.case_id, False)]
    assert engine.stats.cases_closed["reversal_confirmed"] == 1


async def test_a_failed_reversal_opens_a_case_at_once(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, Clock())
    await engine.publish_transaction(timeout("T-1-000001"))
    await engine.publish_transaction(reversal("T-1-000001", "failed", attempt=3))
    [case] = engine.store.list_cases()
    assert case.kind is CaseKind.REVERSAL_FAILED
    stored = engine.store.get(case.case_id)
    assert stored is not None
    assert [entry.state for entry in stored.history if entry.kind == "reversal_attempt"] == [
        "pending", "failed",
    ]


async def test_a_failed_reversal_of_an_unseen_sale_is_still_a_case(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, Clock())
    await engine.publish_transaction(reversal("T-1-000077", "failed", attempt=3))
    [case] = engine.store.list_cases()
    assert case.kind is CaseKind.REVERSAL_FAILED
    await engine.publish_transaction(reversal("T-1-000078", "confirmed"))
    assert engine.stats.reversals_unmatched == 1


async def test_a_retry_with_the_same_card_and_amount_makes_a_near_duplicate(
    tmp_path: Path,
) -> None:
    clock = Clock()
    engine = make_engine(tmp_path, clock)
    await engine.publish_transaction(timeout("T-1-000001"))
    await engine.publish_transaction(
        event("T-1-000002", seconds=45, host_response_code="00", stan="000813",
              masked_pan="476173******0010")
    )
    # Another card, and the same card for another amount, are no retries.
    await engine.publish_transaction(timeout("T-1-000003", seconds=50, stan="000814",
                                             masked_pan="625800******1234"))
    await engine.publish_transaction(
        event("T-1-000004", seconds=60, host_response_code="00", amount_minor=999,
              masked_pan="625800******1234")
    )
    clock.seconds = 2000
    await engine.sweep()
    kinds = {case.sale.transaction_id: case.kind for case in engine.store.list_cases()}
    assert kinds == {
        "T-1-000001": CaseKind.NEAR_DUPLICATE,
        "T-1-000003": CaseKind.REVERSAL_UNCONFIRMED,
    }
    case = engine.store.get(case_id_of("T-1", "T-1-000001"))
    assert case is not None
    assert case.retry is not None
    assert case.retry.transaction_id == "T-1-000002"


async def test_a_redelivered_event_never_opens_a_second_case(tmp_path: Path) -> None:
    clock, tickets = Clock(), RecordingTickets()
    engine = make_engine(tmp_path, clock, tickets=tickets)
    for _ in range(2):
        await engine.publish_transaction(timeout("T-1-000001"))
        await engine.publish_transaction(reversal("T-1-000001", "failed", attempt=3))
    assert len(engine.store.list_cases()) == 1
    assert len(tickets.sent) == 1


async def test_tickets_that_could_not_be_delivered_are_retried(tmp_path: Path) -> None:
    clock, tickets = Clock(), RecordingTickets()
    tickets.failing = True
    engine = make_engine(tmp_path, clock, tickets=tickets)
    await engine.publish_transaction(reversal("T-1-000001", "failed"))
    assert tickets.sent == []
    assert engine.stats.ticket_failures == 1
    await engine.sweep()
    assert engine.stats.tickets_due == 1
    tickets.failing = False
    await engine.sweep()
    assert len(tickets.sent) == 1
    assert engine.stats.tickets_due == 0


async def test_memory_is_capped_and_the_oldest_become_cases_early(tmp_path: Path) -> None:
    settings = PaymentsSettings(index_max_entries=100)
    engine = make_engine(tmp_path, Clock(), settings=settings)
    for number in range(130):
        await engine.publish_transaction(
            timeout(f"T-{number}-000001", seconds=number, terminal=f"T-{number}")
        )
    assert len(engine.tracker) == 100
    assert engine.tracker.stats.evicted == 30
    assert len(engine.store.list_cases()) == 30


async def test_waiting_sales_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    engine = make_engine(tmp_path, clock)
    await engine.publish_transaction(timeout("T-1-000001"))
    await engine.close()
    again = make_engine(tmp_path, clock)
    await again.start()
    assert len(again.tracker) == 1
    await again.publish_transaction(reversal("T-1-000001", seconds=300))
    clock.seconds = 5000
    await again.sweep()
    assert again.store.list_cases(status=None) == []
