"""The uplink's self-metrics, scraped after real deliveries to Mosquitto, match the catalogue
and count what happened."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from posfleet.exporters.catalogue import CATALOGUE, exposition_problems
from posfleet.exporters.mqtt_uplink.metrics import UPLINK_METRICS
from tests.exporters.mqtt_uplink.helpers import status, transaction
from tests.exporters.mqtt_uplink.test_uplink import make_sink
from tests.fixtures.servers import MosquittoServer

README = Path(__file__).parents[3] / "exporters" / "mqtt_uplink" / "README.md"


def test_the_catalogue_holds_the_uplink_metrics_and_the_readme_documents_them() -> None:
    assert CATALOGUE.component("mqtt_uplink") == UPLINK_METRICS
    readme = README.read_text()
    assert [spec.name for spec in UPLINK_METRICS if spec.name not in readme] == []


async def test_self_metrics_match_the_catalogue_after_deliveries(
    mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    sink = make_sink(mosquitto.url, tmp_path, "edge-metrics")
    registry = CollectorRegistry()
    registry.register(sink.metrics())
    await sink.publish(status("T-8", 1))
    await sink.publish_transaction(transaction("T-8", 1))
    async with asyncio.timeout(20):
        while sink.stats.published < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    while_connected = generate_latest(registry).decode()
    await sink.close()

    assert exposition_problems(while_connected, UPLINK_METRICS, require_all=True) == []
    assert "posfleet_uplink_published_total 2.0" in while_connected
    assert "posfleet_uplink_connected 1.0" in while_connected
    assert "posfleet_uplink_buffered_records 0.0" in while_connected
    assert 'posfleet_uplink_dropped_total{reason="buffer_full"} 0.0' in while_connected
