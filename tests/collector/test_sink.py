"""Sinks: fan-out that survives a broken output, and the JSON-lines debug output."""

from __future__ import annotations

import io
import json

import pytest

from posfleet.collector.sink import FanOut, JsonLinesSink, MemorySink
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from posfleet.telemetry.docs import EXAMPLE_STATUS, EXAMPLE_TRANSACTION

SNAPSHOT = StatusSnapshot.model_validate(EXAMPLE_STATUS)
TRANSACTION = TransactionEvent.model_validate(EXAMPLE_TRANSACTION)


class BrokenSink(MemorySink):
    async def publish(self, snapshot: StatusSnapshot) -> None:
        raise ConnectionError("output down")


async def test_fan_out_reaches_every_sink_even_if_one_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = MemorySink(), MemorySink()
    fan_out = FanOut([first, BrokenSink(), second])
    await fan_out.publish(SNAPSHOT)
    await fan_out.publish_transaction(TRANSACTION)
    await fan_out.close()
    assert first.snapshots == second.snapshots == [SNAPSHOT]
    assert first.transactions == second.transactions == [TRANSACTION]
    assert first.closed
    assert second.closed
    assert "BrokenSink: publish failed" in caplog.text


async def test_json_lines_sink_writes_one_object_per_line() -> None:
    stream = io.StringIO()
    sink = JsonLinesSink(stream)
    await sink.publish(SNAPSHOT)
    await sink.publish_transaction(TRANSACTION)
    await sink.close()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["status"]["terminal_id"] == "T-0451"
    assert "screen" not in lines[0]["status"]  # unknown stays absent, not null
    assert lines[1]["transaction"]["outcome"] == "timeout"
