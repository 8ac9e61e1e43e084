"""Ingest's checks and acknowledgement decisions, without a broker."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from posfleet.collector.sink import MemorySink
from posfleet.collector.state import Health
from posfleet.exporters.ingest.checks import MessageChecker
from posfleet.exporters.ingest.latest import LatestSnapshots
from posfleet.exporters.ingest.metrics import IngestStats
from posfleet.exporters.ingest.pipeline import IngestPipeline
from posfleet.telemetry import StatusSnapshot
from tests.exporters.mqtt_uplink.helpers import status, status_body, transaction

UPLINK = "posfleet/uplink/v1"
PUSH = "posfleet/v1"
TOPIC = f"{UPLINK}/acme/S-1/T-1/status"


class FakeClock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.seconds, UTC)

    async def sleep(self, seconds: float) -> None:
        self.seconds += seconds


class FailingSink(MemorySink):
    """Raises for the first ``failures`` snapshots (a write error)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def publish(self, snapshot: StatusSnapshot) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("disk full")
        await super().publish(snapshot)


def make_pipeline(sinks: Sequence[MemorySink], clock: FakeClock | None = None) -> IngestPipeline:
    clock = clock or FakeClock()
    return IngestPipeline(
        MessageChecker([UPLINK, PUSH], 4096),
        sinks,
        LatestSnapshots(300.0, clock),
        IngestStats(),
        clock=clock,
    )


def good(seq: int = 0, terminal: str = "T-1") -> tuple[str, bytes]:
    return (
        f"{UPLINK}/acme/S-1/{terminal}/status",
        status(terminal, seq).model_dump_json(exclude_none=True).encode(),
    )


def with_field(path: Sequence[str], value: Any) -> bytes:
    body = status_body("T-1")
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(body).encode()


BAD_MESSAGES = {
    "malformed": (TOPIC, b'{"terminal_id": "T-1", "printer": {'),
    "wrong_type": (TOPIC, with_field(["printer", "paper"], 42)),
    "too_large": (TOPIC, b"{" + b" " * 5000 + b"}"),
    "binary": (TOPIC, b"\xff\xfe\x00garbage"),
    "card_data": (TOPIC, with_field(["firmware", "track2"], ";4761739001010010=25121011")),
    "wrong_terminal": (f"{UPLINK}/acme/S-1/T-9/status", good()[1]),
    "unknown_topic": (f"{UPLINK}/acme/S-1/T-1/other", good()[1]),
}
REASONS = {
    "malformed": "malformed",
    "wrong_type": "malformed",
    "too_large": "too_large",
    "binary": "binary",
    "card_data": "card_data",
    "wrong_terminal": "wrong_terminal",
    "unknown_topic": "unknown_topic",
}


@pytest.mark.parametrize("case", sorted(BAD_MESSAGES))
async def test_bad_messages_are_counted_by_reason_acked_and_never_written(case: str) -> None:
    sink = MemorySink()
    pipeline = make_pipeline([sink])
    acks = await pipeline.process([BAD_MESSAGES[case], good(1)])
    assert acks == [True, True]
    assert pipeline.stats.refused == {REASONS[case]: 1}
    assert [snapshot.terminal_id for snapshot in sink.snapshots] == ["T-1"]


def test_refusals_name_the_field_the_position_and_never_echo_card_data() -> None:
    checker = MessageChecker([UPLINK], 4096)
    malformed = checker.check(*BAD_MESSAGES["malformed"])
    wrong_type = checker.check(*BAD_MESSAGES["wrong_type"])
    card = checker.check(*BAD_MESSAGES["card_data"])
    binary = checker.check(*BAD_MESSAGES["binary"])
    assert "column" in getattr(malformed, "detail", "")
    assert "printer.paper" in getattr(wrong_type, "detail", "")
    assert "track2" in getattr(card, "detail", "")
    assert "4761739001010010" not in getattr(card, "detail", "")
    assert "offset 0" in getattr(binary, "detail", "")


async def test_terminal_pushes_and_transactions_are_accepted() -> None:
    sink = MemorySink()
    pipeline = make_pipeline([sink])
    event = transaction("T-1", 3)
    pushed = (f"{PUSH}/acme/S-1/T-2/status", good(0, "T-2")[1])
    txn = (f"{UPLINK}/acme/S-1/T-1/transactions", event.model_dump_json().encode())
    assert await pipeline.process([pushed, txn]) == [True, True]
    assert sink.transactions == [event]
    assert pipeline.stats.accepted == {"status": 1, "transactions": 1}
    assert "T-2" in pipeline.latest


async def test_a_failed_write_is_not_acknowledged_and_the_rest_are() -> None:
    failing = FailingSink(failures=1)
    pipeline = make_pipeline([MemorySink(), failing])
    acks = await pipeline.process([good(0), good(1), BAD_MESSAGES["binary"]])
    assert acks == [False, True, True]
    assert pipeline.stats.sink_failures == 1
    # The failed snapshot does not count as the terminal's latest.
    assert pipeline.latest.terminal("T-1").snapshot == status("T-1", 1)


async def test_terminals_turn_stale_and_late_snapshots_do_not_win() -> None:
    clock = FakeClock()
    pipeline = make_pipeline([MemorySink()], clock)
    await pipeline.process([good(5), good(2)])
    view = pipeline.latest.terminal("T-1")
    assert view.snapshot == status("T-1", 5)
    assert view.health is Health.ONLINE
    clock.seconds += 301
    view = pipeline.latest.terminal("T-1")
    assert view.health is Health.OFFLINE
    assert view.reason is not None
    assert view.reason.startswith("stale")
    assert pipeline.latest.health_counts()[Health.OFFLINE] == 1
