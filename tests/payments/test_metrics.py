"""The payments metrics match the catalogue and say what a user would look for."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from posfleet.exporters.catalogue import CATALOGUE, exposition_problems
from posfleet.payments.config import PaymentsSettings
from tests.payments.support import Clock, event, make_engine, reversal, timeout


async def test_the_exposition_matches_the_catalogue(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, Clock())
    await engine.publish_transaction(event("T-1-000001", host_response_code="00",
                                           operator_id="anna"))
    await engine.publish_transaction(event("T-1-000002", "declined", host_response_code="Q7"))
    await engine.publish_transaction(timeout("T-1-000003"))
    await engine.publish_transaction(reversal("T-1-000003", "failed"))
    await engine.sweep()
    registry = CollectorRegistry()
    registry.register(engine.metrics)
    text = generate_latest(registry).decode()
    assert exposition_problems(text, CATALOGUE.component("payments")) == []
    assert (
        'posfleet_payment_attempts_total{cause="approved",merchant="acme",region="eu-west",'
        'store="S-1",terminal="T-1"} 1.0' in text
    )
    assert 'posfleet_payment_unclassified_codes_total{code="Q7",table="iso8583"} 1.0' in text
    assert (
        'posfleet_payment_cases_open{kind="reversal_failed",merchant="acme",region="eu-west",'
        'store="S-1"} 1.0' in text
    )
    assert 'posfleet_payment_cases_opened_total{kind="reversal_failed"} 1.0' in text


async def test_per_terminal_series_stop_beyond_the_configured_fleet_size(tmp_path: Path) -> None:
    engine = make_engine(
        tmp_path, Clock(), settings=PaymentsSettings(terminal_metrics_max_terminals=2)
    )
    for number in range(3):
        await engine.publish_transaction(event(f"T-{number}-1", terminal=f"T-{number}",
                                               host_response_code="00"))
    registry = CollectorRegistry()
    registry.register(engine.metrics)
    assert "posfleet_payment_attempts_total{" not in generate_latest(registry).decode()
