"""Smoke tests of the server fixtures: write through each real server and read the value back."""

from __future__ import annotations

import json
import queue
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import paho.mqtt.client as mqtt
import psycopg
import pytest
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.fixtures.net import LOOPBACK, free_port, http_json, http_request, wait_until
from tests.fixtures.servers import (
    AlertmanagerServer,
    InfluxDBServer,
    MosquittoFactory,
    MosquittoServer,
    PostgresDatabase,
    PrometheusFactory,
    PrometheusServer,
    VictoriaMetricsServer,
    scrape_job,
)

pytestmark = pytest.mark.server


def test_prometheus_session_fixture_answers(prometheus: PrometheusServer) -> None:
    info = http_json("GET", f"{prometheus.url}/api/v1/status/buildinfo")
    assert info["status"] == "success"
    assert info["data"]["version"].startswith("2.")
    assert prometheus.query("up") == []  # no scrape targets


def test_prometheus_scrapes_a_target(prometheus_factory: PrometheusFactory) -> None:
    registry = CollectorRegistry()
    gauge = Gauge("posfleet_smoke_battery_percent", "Smoke-test gauge", registry=registry)
    gauge.set(87.5)
    port = free_port()
    exporter, thread = start_http_server(port, addr=LOOPBACK, registry=registry)
    try:
        prom = prometheus_factory(scrape_configs=[scrape_job("smoke", [f"{LOOPBACK}:{port}"])])
        result = wait_until(
            lambda: prom.query("posfleet_smoke_battery_percent") or None,
            timeout=15,
            interval=0.2,
            message="Prometheus to scrape the smoke gauge",
        )
    finally:
        exporter.shutdown()
        thread.join(5)
    assert len(result) == 1
    assert result[0]["metric"]["job"] == "smoke"
    assert float(result[0]["value"][1]) == 87.5


def test_alertmanager_accepts_and_lists_an_alert(alertmanager: AlertmanagerServer) -> None:
    now = datetime.now(UTC)
    labels = {"alertname": "PosfleetSmoke", "terminal": f"t-{uuid.uuid4().hex[:8]}"}
    alert = {
        "labels": labels,
        "annotations": {"summary": "smoke test"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
    }
    http_json("POST", f"{alertmanager.url}/api/v2/alerts", [alert])

    query = urlencode({"filter": f'terminal="{labels["terminal"]}"'})

    def listed() -> list[dict[str, Any]] | None:
        alerts: list[dict[str, Any]] = http_json("GET", f"{alertmanager.url}/api/v2/alerts?{query}")
        return alerts or None

    alerts = wait_until(listed, timeout=10, message="Alertmanager to list the alert")
    assert len(alerts) == 1
    assert alerts[0]["labels"] == labels
    assert alerts[0]["annotations"] == {"summary": "smoke test"}


def test_influxdb_write_and_query(influxdb: InfluxDBServer) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    create = urlencode({"q": "CREATE DATABASE smoke"})
    status, body = http_request("POST", f"{influxdb.url}/query", body=create, headers=form)
    assert status == 200, body

    timestamp = int(time.time())
    line = f"terminal_health,terminal=t-1 battery=87.5 {timestamp}"
    status, body = http_request("POST", f"{influxdb.url}/write?db=smoke&precision=s", body=line)
    assert status == 204, body

    q = quote('SELECT "battery" FROM "terminal_health" WHERE "terminal" = \'t-1\'')
    answer = http_json("GET", f"{influxdb.url}/query?db=smoke&epoch=s&q={q}")
    series = answer["results"][0]["series"]
    assert series[0]["columns"] == ["time", "battery"]
    assert series[0]["values"] == [[timestamp, 87.5]]


def test_victoria_metrics_influx_write_and_export(victoria_metrics: VictoriaMetricsServer) -> None:
    timestamp_ns = time.time_ns()
    line = f"posfleet_smoke,terminal=t-1 battery=87.5 {timestamp_ns}"
    with InfluxDBClient(url=victoria_metrics.url, token="x", org="x") as client:
        client.write_api(write_options=SYNCHRONOUS).write(bucket="x", record=line)

    match = quote('{__name__="posfleet_smoke_battery",terminal="t-1"}')

    def exported() -> dict[str, Any] | None:
        victoria_metrics.force_flush()
        status, body = http_request("GET", f"{victoria_metrics.url}/api/v1/export?match[]={match}")
        assert status == 200, body
        lines = body.decode().splitlines()
        return dict(json.loads(lines[0])) if lines else None

    # A new series becomes searchable ~10 s after its first sample unless flushed; even after
    # a force_flush it can take a fraction of a second, hence the polling.
    row = wait_until(exported, timeout=10, interval=0.2, message="VictoriaMetrics to export")
    assert row["values"] == [87.5]
    assert row["timestamps"] == [timestamp_ns // 1_000_000]


class _Subscriber:
    """A paho-mqtt (v2 callback API) client that collects messages in a queue."""

    def __init__(self, server: MosquittoServer, topic: str) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._subscribed: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: self._subscribed.put(codes)
        self.client.connect(server.host, server.port, keepalive=10)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        codes = self._subscribed.get(timeout=5)
        assert not any(code.is_failure for code in codes), codes

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _publish(server: MosquittoServer, topic: str, payload: bytes, *, retain: bool = False) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(server.host, server.port, keepalive=10)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=5)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def test_mosquitto_publish_subscribe(mosquitto: MosquittoServer) -> None:
    topic = f"posfleet/smoke/{uuid.uuid4().hex}"
    subscriber = _Subscriber(mosquitto, topic)
    try:
        _publish(mosquitto, topic, b'{"battery": 87.5}')
        message = subscriber.messages.get(timeout=5)
    finally:
        subscriber.close()
    assert message.topic == topic
    assert message.qos == 1
    assert message.payload == b'{"battery": 87.5}'


def test_mosquitto_restart_keeps_retained_messages(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory()
    topic = "posfleet/smoke/retained"
    _publish(broker, topic, b"before-restart", retain=True)

    port = broker.port
    broker.stop()
    assert not broker.running
    broker.start()
    assert broker.port == port

    subscriber = _Subscriber(broker, topic)
    try:
        message = subscriber.messages.get(timeout=5)
    finally:
        subscriber.close()
    assert message.retain
    assert message.payload == b"before-restart"


def test_postgres_roundtrip(postgres: PostgresDatabase) -> None:
    with psycopg.connect(postgres.dsn) as conn:
        assert conn.info.dbname == postgres.dbname
        conn.execute("CREATE TABLE terminal (id text PRIMARY KEY, battery double precision)")
        conn.execute("INSERT INTO terminal (id, battery) VALUES (%s, %s)", ("t-1", 87.5))
        row = conn.execute("SELECT id, battery FROM terminal").fetchone()
    assert row == ("t-1", 87.5)
