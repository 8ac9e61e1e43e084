"""The generic webhook target against a tiny real HTTP receiver that honours
Idempotency-Key: one create even when the bridge's first call timed out after the
receiver had created the ticket; then the ticket's changes in order."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from posfleet.alerts.bridge.bridge import TicketBridge
from tests.alerts.bridge.conftest import BridgeFactory
from tests.alerts.bridge.support import AUTH, FakeClock, alert, notification
from tests.fixtures.net import LOOPBACK

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


class Receiver:
    """A ticketing system that creates one ticket per Idempotency-Key; it can be told to
    answer the next create too late (after doing the work)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.created: dict[str, str] = {}
        self.slow_creates = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                with receiver.lock:
                    receiver.requests.append((key, body, dict(self.headers)))
                    delay = 0.0
                    if body["event"] == "create":
                        if key not in receiver.created:
                            receiver.created[key] = f"HOOK-{len(receiver.created) + 1}"
                        if receiver.slow_creates:
                            receiver.slow_creates -= 1
                            delay = 1.5
                    answer = {"id": receiver.created.get(key, "")}
                time.sleep(delay)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}/tickets"

    def events(self) -> list[str]:
        return [body["event"] for _, body, _ in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


async def test_a_create_that_timed_out_after_succeeding_is_not_repeated(
    make_bridge: BridgeFactory, receiver: Receiver, clock: FakeClock
) -> None:
    bridge: TicketBridge = make_bridge(
        webhook={"url": receiver.url, "timeout_seconds": 0.5, "bearer_token": "hook-secret"}
    )
    await bridge.start()
    transport = httpx.ASGITransport(app=bridge.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        answer = await client.post("/api/v1/alertmanager", json=notification(alert()), headers=AUTH)
        ticket_id = answer.json()["tickets"][0]["ticket_id"]

        receiver.slow_creates = 1
        await bridge.tick()  # the receiver creates it, but answers after the bridge gave up
        clock.advance(seconds=5)
        await bridge.tick()  # retried with the same Idempotency-Key

        ticket = (await client.get(f"/api/v1/tickets/{ticket_id}", headers=AUTH)).json()
        assert len(receiver.created) == 1
        keys = [key for key, body, _ in receiver.requests if body["event"] == "create"]
        assert keys == [f"{ticket['tag']}:create"] * 2
        assert ticket["remote"] == [{"system": "webhook", "remote_id": "HOOK-1", "url": None}]
        _, body, headers = receiver.requests[0]
        assert headers["Authorization"] == "Bearer hook-secret"
        assert body["ticket"]["store_address"] == "Europaplatz 1, 10557 Berlin, DE"
        assert body["ticket"]["action"].startswith("Load a new 80 mm paper roll")

        await client.post(
            "/api/v1/alertmanager",
            json=notification(alert("resolved", ends_at=clock.now)),
            headers=AUTH,
        )
        await bridge.tick()
        clock.advance(minutes=5)
        await bridge.tick()
        await bridge.tick()

    assert receiver.events() == ["create", "create", "comment", "close"]
    assert len({key for key, _, _ in receiver.requests}) == 3
    sample = bridge.metrics.registry.get_sample_value
    calls = "posfleet_tickets_outbound_calls_total"
    assert sample(calls, {"system": "webhook", "result": "timeout"}) == 1
    assert sample(calls, {"system": "webhook", "result": "ok"}) == 3
    assert sample("posfleet_tickets_outbox_queue_depth", {"system": "webhook"}) == 0
    await bridge.aclose()


async def test_a_receiver_that_is_down_gets_the_change_later_with_backoff(
    make_bridge: BridgeFactory, receiver: Receiver, clock: FakeClock
) -> None:
    down_url = receiver.url.replace(
        str(receiver.server.server_address[1]), "9"  # discard port: connection refused
    )
    bridge = make_bridge(webhook={"url": down_url, "timeout_seconds": 0.5})
    await bridge.start()
    transport = httpx.ASGITransport(app=bridge.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        await client.post("/api/v1/alertmanager", json=notification(alert()), headers=AUTH)
    await bridge.tick()
    await bridge.tick()  # not due yet: backoff

    calls = bridge.metrics.registry.get_sample_value(
        "posfleet_tickets_outbound_calls_total", {"system": "webhook", "result": "error"}
    )
    assert calls == 1
    depth = bridge.metrics.registry.get_sample_value(
        "posfleet_tickets_outbox_queue_depth", {"system": "webhook"}
    )
    assert depth == 1
    await bridge.aclose()
