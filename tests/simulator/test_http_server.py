"""The HTTP status server: valid snapshots with the token, 401 without, fault knobs."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from posfleet.simulator.engine import Fleet
from posfleet.simulator.http_server import StatusServer
from posfleet.telemetry import StatusSnapshot
from tests.simulator.helpers import make_fleet, run

TOKEN = "s3cret"


async def _client(server: StatusServer) -> TestClient[web.Request, web.Application]:
    client = TestClient(TestServer(server.app))
    await client.start_server()
    return client


def _http_terminal(fleet: Fleet) -> str:
    return next(t.spec.id for t in fleet.terminals if t.spec.driver == "http" and t.powered)


async def test_answers_a_valid_snapshot_with_the_token() -> None:
    fleet = make_fleet(20, record_all=False)
    run(fleet, 600.0)
    terminal_id = _http_terminal(fleet)
    client = await _client(StatusServer(fleet, TOKEN))
    try:
        response = await client.get(
            f"/terminals/{terminal_id}/status", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status == 200
        snapshot = StatusSnapshot.model_validate_json(await response.text())
        assert snapshot.terminal_id == terminal_id
        assert snapshot.observed_at.timestamp() == fleet.now
        assert snapshot.network is not None
    finally:
        await client.close()


async def test_refuses_a_missing_or_wrong_token() -> None:
    fleet = make_fleet(20, record_all=False)
    terminal_id = _http_terminal(fleet)
    client = await _client(StatusServer(fleet, TOKEN))
    try:
        missing = await client.get(f"/terminals/{terminal_id}/status")
        wrong = await client.get(
            f"/terminals/{terminal_id}/status", headers={"Authorization": "Bearer nope"}
        )
        assert (missing.status, wrong.status) == (401, 401)
    finally:
        await client.close()


async def test_unknown_terminal_is_404() -> None:
    client = await _client(StatusServer(make_fleet(5, record_all=False), TOKEN))
    try:
        response = await client.get(
            "/terminals/T-9999/status", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status == 404
    finally:
        await client.close()


async def test_fault_knobs_break_the_answer_as_configured() -> None:
    fleet = make_fleet(20, record_all=False)
    terminal_id = _http_terminal(fleet)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    server = StatusServer(fleet, TOKEN, slow_seconds=7.0, sleep=fake_sleep)
    client = await _client(server)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"/terminals/{terminal_id}/status"
    try:
        server.faults[terminal_id] = "slow"
        assert (await client.get(url, headers=headers)).status == 200
        assert slept == [7.0]
        server.faults[terminal_id] = "truncated"
        text = await (await client.get(url, headers=headers)).text()
        try:
            json.loads(text)
            raise AssertionError("truncated JSON parsed")
        except json.JSONDecodeError:
            pass
        server.faults[terminal_id] = "wrong_types"
        data = json.loads(await (await client.get(url, headers=headers)).text())
        assert isinstance(data["observed_at"], int)
        server.faults[terminal_id] = "oversized"
        body = await (await client.get(url, headers=headers)).read()
        assert len(body) > 2_000_000
    finally:
        await client.close()
