"""The v2 endpoint (/api/v2/write through influxdb-client) against VictoriaMetrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from posfleet.config.models import InfluxDbSettings
from tests.exporters.influxdb.support import START, make_sink, snapshot, transaction, wait_for
from tests.fixtures.net import http_request
from tests.fixtures.servers import VictoriaMetricsServer

pytestmark = pytest.mark.server


def export(server: VictoriaMetricsServer, selector: str) -> list[dict[str, Any]]:
    """Every series matching ``selector`` with its samples (GET /api/v1/export)."""
    server.force_flush()
    status, raw = http_request(
        "GET", f"{server.url}/api/v1/export?{urlencode({'match[]': selector})}"
    )
    assert status == 200, raw
    return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]


async def test_v2_writes_reach_victoria_metrics(
    victoria_metrics: VictoriaMetricsServer, tmp_path: Path
) -> None:
    settings = InfluxDbSettings(
        url=victoria_metrics.url,
        api="v2",
        org="posfleet",
        bucket="fleet",
        token="not-checked-by-victoria-metrics",
        flush_interval_seconds=0.05,
    )
    sink = make_sink(settings, tmp_path)
    for index in range(20):
        await sink.publish(snapshot(index, terminal="T-V2", store_id="S-001"))
    await sink.publish_transaction(transaction(1, terminal_id="T-V2"))
    await wait_for(lambda: sink.stats.points_sent == 61, what="61 points accepted")
    await sink.close()

    [cuts] = export(victoria_metrics, '{__name__="posfleet_printer_paper_cuts_total"}')
    assert cuts["metric"]["terminal"] == "T-V2"
    assert cuts["metric"]["store"] == "S-001"
    assert cuts["values"] == list(range(20))
    assert cuts["timestamps"][0] == int(START.timestamp() * 1000)
    [amount] = export(victoria_metrics, '{__name__="posfleet_transaction_amount_minor"}')
    assert amount["metric"]["outcome"] == "approved"
    assert amount["values"] == [1250]
    assert sink.stats.points_dropped.total() == 0
