"""The derived metrics match the catalogue, and the collector serves them."""

from __future__ import annotations

from typing import Any

from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from posfleet.collector.app import CollectorApp
from posfleet.config.models import PosfleetConfig
from posfleet.exporters.catalogue import CATALOGUE, exposition_problems
from posfleet.exporters.derived.metrics import DerivedMetrics
from posfleet.exporters.derived.policy import POLICY_THRESHOLDS
from tests.exporters.derived.support import START, StepClock, snapshot, transaction

CONFIG: dict[str, Any] = {
    "merchants": [{"id": "acme", "name": "ACME"}],
    "stores": [
        {
            "id": "S-012",
            "merchant": "acme",
            "name": "Mitte",
            "region": "eu-west",
            "timezone": "Europe/Berlin",
            "opening_hours": [{"days": ["wed"], "opens": "08:00", "closes": "20:00"}],
        },
        {
            "id": "S-013",
            "merchant": "acme",
            "name": "Nord",
            "region": "eu-west",
            "timezone": "Europe/Berlin",
            "opening_hours": [{"days": ["sun"], "opens": "08:00", "closes": "20:00"}],
        },
    ],
    "alerting": {"baseline_versions": {"payment_app": "5.4.0"}},
}


async def _fed_metrics() -> tuple[DerivedMetrics, StepClock]:
    clock = StepClock()
    metrics = DerivedMetrics(PosfleetConfig.model_validate(CONFIG), clock=clock)
    sink = metrics.sink
    for minute in range(11):
        await sink.publish(snapshot(minute, 10 * minute, firmware={"payment_app_version": "5.3.9"}))
        await sink.publish(
            snapshot(minute, 0, terminal="T-0452", firmware={"payment_app_version": "5.4.1"})
        )
    await sink.publish(snapshot(11, 110, "near_end"))
    await sink.publish_transaction(transaction("T-0451-1", "approved", host_response_code="00"))
    await sink.publish_transaction(
        transaction("T-0451-2", "timeout", local_error="network_timeout", reversal_state="pending")
    )
    await sink.publish_transaction(
        transaction(
            "T-0452-3-R1",
            "failed",
            host_response_code="25",
            reversal_state="failed",
            terminal="T-0452",
        )
    )
    await sink.close()
    clock.at = START.replace(minute=11)
    return metrics, clock


def _exposition(metrics: DerivedMetrics) -> str:
    registry = CollectorRegistry()
    registry.register(metrics)
    return generate_latest(registry).decode()


async def test_every_derived_metric_matches_the_catalogue() -> None:
    metrics, _ = await _fed_metrics()
    text = _exposition(metrics)
    assert exposition_problems(text, CATALOGUE.component("derived"), require_all=True) == []


async def test_the_values_a_rule_reads() -> None:
    metrics, _ = await _fed_metrics()
    text = _exposition(metrics)
    base = 'merchant="acme",region="eu-west",store="S-012"'
    # Wednesday 10:11 in Berlin: S-012 is open, S-013 (Sundays only) is not.
    assert f"posfleet_store_open{{{base}}} 1.0" in text
    assert 'posfleet_store_open{merchant="acme",region="eu-west",store="S-013"} 0.0' in text
    # 250 lines at the trip (between minutes 10 and 11), 10 printed since, 10 a minute.
    assert (
        f'posfleet_printer_paper_time_to_empty_seconds{{{base},terminal="T-0451"}} 1440.0' in text
    )
    assert 'terminal="T-0452"' not in text
    assert 'posfleet_version_below_baseline{component="payment_app",version="5.3.9"} 1.0' in text
    assert 'posfleet_version_below_baseline{component="payment_app",version="5.4.1"} 0.0' in text
    assert 'posfleet_baseline_info{component="payment_app",version="5.4.0"} 1.0' in text
    for name in POLICY_THRESHOLDS:
        assert f'posfleet_policy_threshold{{name="{name}"}}' in text
    assert (
        'posfleet_transactions_total{cause="approved",merchant="acme",outcome="approved",'
        'region="eu-west",store="S-012"} 1.0' in text
    )
    assert (
        'posfleet_transactions_total{cause="network",merchant="acme",outcome="timeout",'
        'region="eu-west",store="S-012"} 1.0' in text
    )
    pending, failed = (
        f'posfleet_reversals{{merchant="acme",region="eu-west",state="{state}",store="S-012"}} 1.0'
        for state in ("pending", "failed")
    )
    assert pending in text
    assert failed in text
    assert f"posfleet_reversal_oldest_pending_age_seconds{{{base}}} 660.0" in text


def test_a_store_with_an_unknown_time_zone_is_left_out_not_fatal() -> None:
    config = {**CONFIG, "stores": [{**CONFIG["stores"][0], "timezone": "Mars/Olympus"}]}
    metrics = DerivedMetrics(PosfleetConfig.model_validate(config), clock=StepClock())
    assert "posfleet_store_open{" not in _exposition(metrics)


async def test_the_collector_serves_derived_metrics_and_feeds_them_from_its_sinks() -> None:
    registry = CollectorRegistry()
    app = CollectorApp(PosfleetConfig.model_validate(CONFIG), registry=registry, plugins={})
    await app.sink.publish_transaction(
        transaction("T-0451-1", "failed", local_error="card_read_error")
    )
    text = generate_latest(registry).decode()
    assert 'posfleet_policy_threshold{name="acquirer_timeout_seconds"} 10.0' in text
    assert 'cause="device_fault"' in text
