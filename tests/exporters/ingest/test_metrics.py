"""Ingest's /metrics over a real Mosquitto: its self-metrics, the derived metrics and the
series of every terminal it received snapshots of, all as the catalogue says; and a real
Prometheus scraping ingest sees the terminals' series."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prometheus_client.parser import text_string_to_metric_families

from posfleet.collector.sink import MemorySink
from posfleet.exporters.catalogue import CATALOGUE, exposition_problems
from posfleet.exporters.ingest.metrics import INGEST_METRICS
from tests.exporters.ingest.test_ingest_broker import config, publish, running, until
from tests.exporters.ingest.test_pipeline import UPLINK, good
from tests.exporters.mqtt_uplink.helpers import transaction
from tests.fixtures.net import LOOPBACK, free_port, http_request, wait_until
from tests.fixtures.servers import MosquittoServer, PrometheusFactory, scrape_job

TERMINALS = ("T-1", "T-2", "T-3")

Samples = dict[str, list[tuple[dict[str, str], float]]]


def samples(text: str) -> Samples:
    """Sample name -> (labels, value) of every sample in an exposition."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def per_terminal(found: Samples, name: str) -> dict[str, float]:
    return {labels["terminal"]: value for labels, value in found.get(name, [])}


def snapshots_and_a_transaction() -> list[tuple[str, bytes]]:
    event = transaction("T-1", 1)
    return [
        *(good(seq, terminal) for seq in range(2) for terminal in TERMINALS),
        (f"{UPLINK}/acme/S-1/T-1/transactions", event.model_dump_json().encode()),
    ]


async def scrape(address: str | None) -> str:
    status, body = await asyncio.to_thread(http_request, "GET", f"http://{address}/metrics")
    assert status == 200
    return body.decode()


async def test_metrics_serve_terminal_series_derived_and_self_metrics_as_catalogued(
    mosquitto: MosquittoServer,
) -> None:
    messages = snapshots_and_a_transaction()
    async with running(config(mosquitto.url, "metrics-test"), [MemorySink()], "metrics") as app:
        await publish(mosquitto.url, messages)
        await until(lambda: app.stats.acked == len(messages))
        text = await scrape(app.metrics_address)

    assert exposition_problems(text, CATALOGUE) == []
    # Every ingest family is there (the other components' families are checked above).
    ingest_only = exposition_problems(text, INGEST_METRICS, require_all=True)
    assert [problem for problem in ingest_only if "not in the catalogue" not in problem] == []
    found = samples(text)
    assert per_terminal(found, "posfleet_terminal_up") == dict.fromkeys(TERMINALS, 1.0)
    assert per_terminal(found, "posfleet_printer_online") == dict.fromkeys(TERMINALS, 1.0)
    lines = per_terminal(found, "posfleet_printer_receipt_lines_total")
    assert lines == dict.fromkeys(TERMINALS, 1.0)  # the latest snapshot (seq 1) of each
    assert found["posfleet_transactions_total"] == [
        (
            {
                "store": "S-1",
                "merchant": "acme",
                "region": "",
                "outcome": "timeout",
                "cause": "network",
            },
            1.0,
        )
    ]
    assert ({"state": "online"}, 3.0) in found["posfleet_ingest_terminals"]
    assert ({"kind": "transactions"}, 1.0) in found["posfleet_ingest_messages_accepted_total"]


async def test_prometheus_scraping_ingest_sees_the_terminals(
    mosquitto: MosquittoServer, prometheus_factory: PrometheusFactory
) -> None:
    listen = f"{LOOPBACK}:{free_port()}"
    settings = config(mosquitto.url, "prometheus-test")
    async with running(settings, [], "prometheus", listen=listen) as app:
        await publish(mosquitto.url, [good(0, terminal) for terminal in TERMINALS])
        await until(lambda: len(app.latest) == len(TERMINALS))
        prometheus = await asyncio.to_thread(
            prometheus_factory, scrape_configs=[scrape_job("posfleet-ingest", [listen])]
        )

        def terminals_up() -> Sequence[str] | None:
            result = prometheus.query('posfleet_terminal_up{job="posfleet-ingest"} == 1')
            terminals = sorted(series["metric"]["terminal"] for series in result)
            return terminals if len(terminals) == len(TERMINALS) else None

        up = await asyncio.to_thread(
            wait_until, terminals_up, timeout=30, message="Prometheus to scrape the terminals"
        )
    assert up == list(TERMINALS)
