"""Attempts counted per store by outcome and cause; reversals followed until resolved."""

from __future__ import annotations

from posfleet.exporters.derived.reversals import StoreKey
from posfleet.exporters.derived.transactions import AttemptKey, TransactionCounter
from tests.exporters.derived.support import START, transaction

NOW = START.timestamp()
S012 = StoreKey("S-012", "acme", "eu-west")


def _counter(now: list[float]) -> TransactionCounter:
    return TransactionCounter({"S-012": "eu-west"}, 3600.0, lambda: now[0])


def test_attempts_are_counted_per_store_outcome_and_cause() -> None:
    counter = _counter([NOW])
    counter.observe(transaction("T-0451-1", "approved", host_response_code="00"))
    counter.observe(transaction("T-0452-1", "approved", host_response_code="00", terminal="T-0452"))
    counter.observe(transaction("T-0451-2", "failed", local_error="printer_paper_out"))
    counter.observe(transaction("T-0460-1", "approved", store="S-999"))
    assert counter.attempts == {
        AttemptKey(S012, "approved", "approved"): 2,
        AttemptKey(S012, "failed", "device_fault"): 1,
        AttemptKey(StoreKey("S-999", "acme", ""), "approved", "approved"): 1,
    }


def test_a_pending_reversal_ages_until_its_confirmation_arrives() -> None:
    now = [NOW + 600]
    counter = _counter(now)
    counter.observe(
        transaction(
            "T-0451-000812", "timeout", local_error="network_timeout", reversal_state="pending"
        )
    )
    counter.observe(
        transaction(
            "T-0451-000812",
            "timeout",
            local_error="network_timeout",
            reversal_state="sent",
            minute=2,
        )
    )
    (store,) = counter.reversals.stores(now[0])
    assert (store.pending, store.failed, store.oldest_pending_age_seconds) == (1, 0, 600.0)
    counter.observe(
        transaction(
            "T-0451-000812-R1",
            "reversed",
            host_response_code="00",
            reversal_state="confirmed",
            minute=11,
        )
    )
    (store,) = counter.reversals.stores(now[0])
    assert (store.pending, store.failed, store.oldest_pending_age_seconds) == (0, 0, None)
    # The result is not a second attempt.
    assert sum(counter.attempts.values()) == 2


def test_a_failed_reversal_is_counted_for_the_retention_time() -> None:
    now = [NOW]
    counter = _counter(now)
    counter.observe(transaction("T-0451-1", "timeout", reversal_state="pending"))
    counter.observe(
        transaction("T-0451-1-R3", "failed", local_error="network_down", reversal_state="failed")
    )
    (store,) = counter.reversals.stores(now[0] + 60)
    assert (store.pending, store.failed) == (0, 1)
    (store,) = counter.reversals.stores(now[0] + 3601)
    assert (store.pending, store.failed) == (0, 0)


def test_a_result_with_an_unrelated_id_resolves_the_terminals_oldest_reversal() -> None:
    counter = _counter([NOW])
    counter.observe(transaction("A", "timeout", reversal_state="pending"))
    counter.observe(transaction("B", "timeout", reversal_state="pending", minute=1))
    counter.observe(transaction("REV-77", "reversed", reversal_state="confirmed", minute=2))
    (store,) = counter.reversals.stores(NOW + 180)
    assert (store.pending, store.oldest_pending_age_seconds) == (1, 120.0)
