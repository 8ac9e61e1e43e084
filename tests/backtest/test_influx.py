"""History read back from a real InfluxDB 1.6 (the influxdb fixture), written there with
posfleet's own line-protocol serializer, comes back as the same snapshots and events."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path

import httpx
from click.testing import CliRunner

from posfleet.cli import cli
from posfleet.exporters.influxdb.lineprotocol import LineProtocolSerializer
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from tests.backtest.conftest import History
from tests.fixtures.servers import InfluxDBServer

NOT_STORED = {"masked_pan", "schema_version"}


def _records(trace: Path, limit: int) -> tuple[list[StatusSnapshot], list[TransactionEvent]]:
    statuses, events = [], []
    for line in trace.read_text().splitlines()[:limit]:
        data = json.loads(line)
        kind = data.pop("type")
        if kind == "status":
            statuses.append(StatusSnapshot.model_validate(data))
        else:
            events.append(TransactionEvent.model_validate(data))
    return statuses, events


def _whole_seconds(data: dict[str, object]) -> dict[str, object]:
    """The schema stores component times as whole Unix seconds (docs/influxdb-schema.md)."""
    for value in data.values():
        if isinstance(value, dict):
            for name, inner in value.items():
                if isinstance(inner, datetime):
                    value[name] = inner.replace(microsecond=0)
    return data


def _differences(got: dict[str, object], want: dict[str, object], at: str = "") -> list[str]:
    out = []
    for name in sorted(set(got) | set(want)):
        one, other = got.get(name), want.get(name)
        if isinstance(one, dict) and isinstance(other, dict):
            out += _differences(one, other, f"{at}{name}.")
        elif one != other:
            out.append(f"{at}{name}: {one!r} != {other!r}")
    return out


def test_history_round_trips_through_influxdb(
    influxdb: InfluxDBServer, small_history: History, tmp_path: Path
) -> None:
    database = f"bt_{secrets.token_hex(4)}"
    statuses, events = _records(small_history.trace, 400)
    assert statuses
    assert events
    serializer = LineProtocolSerializer()
    lines = [line for s in statuses for line in serializer.snapshot_lines(s)]
    lines += [serializer.transaction_line(e) for e in events]
    with httpx.Client(base_url=influxdb.url) as client:
        client.post("/query", params={"q": f"CREATE DATABASE {database}"}).raise_for_status()
        client.post(
            "/write", params={"db": database, "precision": "ns"}, content="\n".join(lines)
        ).raise_for_status()
    start = min(s.observed_at for s in statuses)
    end = max(s.observed_at for s in statuses)
    out = tmp_path / "from-influx.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "backtest", "influx", "--url", influxdb.url, "--database", database,
            "--from", start.isoformat(), "--to", end.isoformat(), "--out", str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    back_statuses, back_events = _records(out, 10**9)
    expected = [s for s in statuses if s.observed_at < end]
    key = lambda s: (s.observed_at, s.terminal_id)  # noqa: E731
    got = [s.model_dump(exclude=NOT_STORED) for s in sorted(back_statuses, key=key)]
    want = [_whole_seconds(s.model_dump(exclude=NOT_STORED)) for s in sorted(expected, key=key)]
    assert len(got) == len(want)
    for one, other in zip(got, want, strict=True):
        assert one == other, _differences(one, other)
    in_range = [e for e in events if start <= e.occurred_at < end]
    ekey = lambda e: (e.occurred_at, e.transaction_id)  # noqa: E731
    assert [e.model_dump(exclude=NOT_STORED) for e in sorted(back_events, key=ekey)] == [
        e.model_dump(exclude=NOT_STORED) for e in sorted(in_range, key=ekey)
    ]
    # Lines are in time order, as the backtest expects.
    stamps = [json.loads(line).get("observed_at") or json.loads(line)["occurred_at"]
              for line in out.read_text().splitlines()]  # fmt: skip
    parsed = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps]
    assert parsed == sorted(parsed)
    assert all(p.tzinfo == UTC for p in parsed)


def test_unreachable_influxdb_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "backtest", "influx", "--url", "http://127.0.0.1:9", "--database", "x",
            "--from", "2026-11-25T00:00:00Z", "--to", "2026-11-25T01:00:00Z",
            "--out", str(tmp_path / "o.jsonl"),
        ],
    )
    assert result.exit_code == 1
    assert "backtest influx: http://127.0.0.1:9" in result.output
