"""The InfluxDB output against a real InfluxDB 1.6 (/write): what is written, and that
nothing is lost through outages, crashes, oversized batches and bad points."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from posfleet.exporters.influxdb.metrics import BAD_POINT, TOO_LARGE
from tests.exporters.influxdb.support import (
    START,
    count,
    create_database,
    influxql,
    make_sink,
    rows,
    snapshot,
    transaction,
    v1_settings,
    wait_for,
    wait_for_query,
)
from tests.fixtures.net import free_port, http_request
from tests.fixtures.servers import InfluxDBFactory, InfluxDBServer

pytestmark = pytest.mark.server

NS = 1_000_000_000


def fresh_database(server: InfluxDBServer, request: pytest.FixtureRequest) -> str:
    name: str = "t_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:50]
    create_database(server, name)
    return name


async def test_snapshots_and_transactions_read_back_with_their_types(
    influxdb: InfluxDBServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database = fresh_database(influxdb, request)
    sink = make_sink(v1_settings(influxdb, database), tmp_path)
    await sink.start()
    await sink.publish(
        snapshot(
            1,
            terminal="T-0451",
            serial="1850123456",
            network={"interface": "wifi", "signal_dbm": -61, "link_flaps_total": 3},
            firmware={"certificate_expires_at": "2027-03-01T00:00:00Z"},
        )
    )
    await sink.publish_transaction(transaction(2, outcome="declined", host_response_code="51"))
    await sink.publish_transaction(
        transaction(3, outcome="failed", host_response_code=None, local_error="tls_error")
    )
    await sink.close()

    [terminal] = rows(influxdb, database, "SELECT * FROM posfleet_terminal")
    assert terminal["time"] == (START.timestamp() + 1) * NS
    assert terminal["terminal"] == "T-0451"
    assert (terminal["store"], terminal["merchant"], terminal["region"]) == (
        "S-001",
        "acme",
        "north",
    )
    assert terminal["reported"] is True
    assert terminal["serial"] == "1850123456"
    assert "model" not in terminal, "absent values are not written"

    [network] = rows(influxdb, database, "SELECT * FROM posfleet_network")
    assert network["signal_dbm"] == -61.0
    assert network["interface"] == "wifi"
    assert network["link_flaps_total"] == 3
    assert "link_up" not in network

    [firmware] = rows(influxdb, database, "SELECT * FROM posfleet_firmware")
    assert firmware["certificate_expires_at"] == 1803859200

    field_types = {
        (series["name"], name): kind
        for series in influxql(influxdb, database, "SHOW FIELD KEYS")
        for name, kind in series["values"]
    }
    assert field_types[("posfleet_printer", "online")] == "boolean"
    assert field_types[("posfleet_printer", "paper_cuts_total")] == "integer"
    assert field_types[("posfleet_printer", "paper")] == "string"
    assert field_types[("posfleet_system", "battery_percent")] == "float"
    assert field_types[("posfleet_transaction", "amount_minor")] == "integer"
    assert ("posfleet_network", "sim_data_remaining_bytes") not in field_types

    tag_keys = {
        series["name"]: {key for [key] in series["values"]}
        for series in influxql(influxdb, database, "SHOW TAG KEYS")
    }
    assert tag_keys["posfleet_transaction"] == {
        "cause",
        "local_error",
        "merchant",
        "outcome",
        "store",
        "terminal",
    }, "per-attempt ids are fields, not tags"
    failed = rows(influxdb, database, "SELECT * FROM posfleet_transaction WHERE outcome='failed'")
    assert [(row["local_error"], row["stan"], row["transaction_id"]) for row in failed] == [
        ("tls_error", "000003", "T-0001-000003")
    ]
    declined = rows(
        influxdb, database, "SELECT * FROM posfleet_transaction WHERE outcome='declined'"
    )
    assert declined[0]["host_response_code"] == "51"
    assert declined[0]["time"] == (START.timestamp() + 2) * NS


async def test_awkward_ids_and_strings_survive_the_round_trip(
    influxdb: InfluxDBServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database = fresh_database(influxdb, request)
    sink = make_sink(v1_settings(influxdb, database), tmp_path)
    awkward = snapshot(model='A920 "Pro", rev=2', vendor="C:\\Vendor\\").model_copy(
        update={"terminal_id": "T 1,x=y", "store_id": "S=1 2"}
    )
    await sink.publish(awkward)
    await sink.close()
    [row] = rows(influxdb, database, "SELECT * FROM posfleet_terminal")
    assert row["terminal"] == "T 1,x=y"
    assert row["store"] == "S=1 2"
    assert row["model"] == 'A920 "Pro", rev=2'
    assert row["vendor"] == "C:\\Vendor\\"
    assert sink.stats.points_dropped.total() == 0


async def test_an_outage_during_10000_snapshots_loses_nothing(
    influxdb_factory: InfluxDBFactory, tmp_path: Path
) -> None:
    server = influxdb_factory()
    create_database(server, "posfleet")
    sink = make_sink(v1_settings(server, "posfleet", batch_size=1000), tmp_path)
    await sink.start()
    total = 10_000
    for index in range(total):
        if index == 3_000:
            await asyncio.to_thread(server.stop)
        if index == 7_000:
            await asyncio.sleep(1)  # down for a while, with retries backing off
            await asyncio.to_thread(server.start)
        await sink.publish(snapshot(index))
        if index % 100 == 0:
            await asyncio.sleep(0.005)  # the pace of a collector, not a tight loop
    assert sum(sink.stats.retries.values()) > 0, "the outage was seen"
    points = total * 3  # terminal, printer, system
    await wait_for(lambda: sink.stats.points_sent >= points, what="every point delivered")
    await sink.close()
    assert count(server, "posfleet", "posfleet_terminal") == total
    assert count(server, "posfleet", "posfleet_printer", "paper_cuts_total") == total
    assert count(server, "posfleet", "posfleet_system", "battery_percent") == total
    assert sink.stats.points_dropped.total() == 0


CRASHING_WRITER = """
import asyncio, sys
from pathlib import Path
from tests.exporters.influxdb.support import make_sink, snapshot, v1_settings

async def main() -> None:
    sink = make_sink(v1_settings(sys.argv[1], "posfleet"), Path(sys.argv[2]))
    await sink.start()
    for index in range(2000):
        await sink.publish(snapshot(index))
    await sink.flush()
    print("buffered", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_points_buffered_by_a_killed_process_are_delivered_by_the_next(
    influxdb: InfluxDBServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database = fresh_database(influxdb, request)
    unreachable = f"http://127.0.0.1:{free_port()}"
    writer = subprocess.Popen(  # noqa: ASYNC220 - started once; reading its output goes to a thread
        [sys.executable, "-c", textwrap.dedent(CRASHING_WRITER), unreachable, str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[3],
        text=True,
    )
    try:
        assert writer.stdout is not None
        line = await asyncio.to_thread(writer.stdout.readline)
        assert line.strip() == "buffered"
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()

    sink = make_sink(v1_settings(influxdb, database), tmp_path)
    await sink.start()
    await wait_for_query(
        lambda: count(influxdb, database, "posfleet_terminal") == 2000,
        what="the killed writer's 2000 snapshots",
    )
    await sink.close()
    assert count(influxdb, database, "posfleet_printer", "paper_cuts_total") == 2000


async def test_batches_over_the_servers_body_limit_are_split(
    influxdb_factory: InfluxDBFactory, tmp_path: Path
) -> None:
    server = influxdb_factory()
    server.stop()
    assert server.config_path is not None
    with server.config_path.open("a") as config:  # [http] is the file's last section
        config.write("  max-body-size = 20000\n")
    server.start()
    create_database(server, "posfleet")
    status, _ = http_request("POST", f"{server.url}/write?db=posfleet", body="m v=1 1\n" * 5000)
    assert status == 413, "the server enforces the limit"

    sink = make_sink(v1_settings(server, "posfleet", batch_size=5000), tmp_path)
    for index in range(1000):
        await sink.publish(snapshot(index))
    # Alone still too large (validation caps serials; a plug-in's unchecked model may not).
    await sink.publish(snapshot(1000).model_copy(update={"serial": "x" * 30_000}))
    await sink.flush()
    await wait_for(lambda: sink.stats.points_sent >= 3002, what="every point but one")
    await sink.close()
    assert count(server, "posfleet", "posfleet_terminal") == 1000
    assert count(server, "posfleet", "posfleet_system", "battery_percent") == 1001
    assert sink.stats.points_dropped[TOO_LARGE] == 1


async def test_a_bad_point_does_not_hold_back_the_others(
    influxdb: InfluxDBServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database = fresh_database(influxdb, request)
    # Someone else wrote touch_errors_total as a string: our integer is a type conflict,
    # which InfluxDB refuses for that point only (a "partial write").
    status, body = http_request(
        "POST",
        f"{influxdb.url}/write?db={database}&precision=s",
        body=f'posfleet_screen,terminal=legacy touch_errors_total="many" {int(START.timestamp())}',
    )
    assert status == 204, body
    sink = make_sink(v1_settings(influxdb, database), tmp_path)
    for index in range(50):
        screen = {"touch_errors_total": 4} if index == 25 else None
        await sink.publish(snapshot(index, screen=screen))
    await sink.close()
    await sink_points_check(influxdb, database)
    assert sink.stats.points_dropped[BAD_POINT] == 1

    later = make_sink(v1_settings(influxdb, database), tmp_path)
    await later.publish(snapshot(60))
    await later.close()
    assert count(influxdb, database, "posfleet_terminal") == 51, "later batches flow"


async def sink_points_check(server: InfluxDBServer, database: str) -> None:
    assert count(server, database, "posfleet_terminal") == 50
    assert count(server, database, "posfleet_printer", "paper_cuts_total") == 50
    screens = rows(server, database, "SELECT * FROM posfleet_screen")
    assert [row["terminal"] for row in screens] == ["legacy"]
