"""The http driver against a real aiohttp server on a loopback port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from posfleet.collector.driver import DriverContext, DriverError, Reading, installed_drivers
from posfleet.collector.drivers.http.config import HttpSettings
from posfleet.collector.drivers.http.driver import HttpDriver
from posfleet.telemetry.docs import EXAMPLE_STATUS
from tests.collector.drivers.terminal_server import TOKEN, FakeTerminals, running_terminals
from tests.fixtures.net import free_port

TESTDATA = Path(__file__).parents[3] / "collector" / "drivers" / "http" / "testdata"
EXPECTED: dict[str, dict[str, Any]] = json.loads((TESTDATA / "expected.json").read_text())
TERMINAL = "T-0451"
ENVIRON = {"TERMINAL_TOKEN": TOKEN}


@pytest.fixture
async def terminals() -> AsyncIterator[FakeTerminals]:
    async with running_terminals() as server:
        server.bodies[TERMINAL] = json.dumps(EXAMPLE_STATUS).encode()
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def make_driver(
    session: aiohttp.ClientSession,
    url: str,
    *,
    terminal_id: str = TERMINAL,
    token_env: str | None = "TERMINAL_TOKEN",
    max_payload_bytes: int = 1_048_576,
) -> HttpDriver:
    """Built through the plug-in, as the collector builds it."""
    plugin = installed_drivers()["http"]
    assert plugin.create is not None
    settings = HttpSettings.model_validate({"url": url, "token_env": token_env})
    context = DriverContext(
        terminal_id,
        "acme",
        "S-012",
        max_payload_bytes=max_payload_bytes,
        resources={"http_session": session, "environ": ENVIRON},
    )
    driver = plugin.create(settings, context)
    assert isinstance(driver, HttpDriver)
    return driver


async def read_error(driver: HttpDriver) -> DriverError:
    with pytest.raises(DriverError) as caught:
        await driver.read()
    return caught.value


async def test_good_status(terminals: FakeTerminals, session: aiohttp.ClientSession) -> None:
    reading = await make_driver(session, terminals.status_url(TERMINAL)).read()
    assert isinstance(reading, Reading)
    assert sorted(reading.parts) == ["firmware", "network", "printer", "system"]
    assert reading.device == {"serial": "1850123456", "model": "A920", "vendor": "PAX"}
    assert reading.observed_at.isoformat() == "2026-11-25T10:42:00+00:00"


async def test_wrong_token_is_unauthorized(
    terminals: FakeTerminals, session: aiohttp.ClientSession
) -> None:
    driver = make_driver(session, terminals.status_url(TERMINAL), token_env=None)
    error = await read_error(driver)
    assert error.reason == "unauthorized"
    assert "401" in str(error)


async def test_token_variable_not_set_is_unauthorized_without_a_request(
    terminals: FakeTerminals, session: aiohttp.ClientSession
) -> None:
    driver = make_driver(session, terminals.status_url(TERMINAL), token_env="NOT_SET_ANYWHERE")
    error = await read_error(driver)
    assert error.reason == "unauthorized"
    assert "NOT_SET_ANYWHERE" in str(error)
    assert terminals.requests == {}


async def test_server_error_names_the_status(
    terminals: FakeTerminals, session: aiohttp.ClientSession
) -> None:
    terminals.behaviour[TERMINAL] = "http_503"
    error = await read_error(make_driver(session, terminals.status_url(TERMINAL)))
    assert error.reason == "http_503"


async def test_nothing_listening_is_unreachable(session: aiohttp.ClientSession) -> None:
    url = f"http://127.0.0.1:{free_port()}/status"
    error = await read_error(make_driver(session, url))
    assert error.reason == "unreachable"


async def test_truncated_json_is_malformed_with_position(
    terminals: FakeTerminals, session: aiohttp.ClientSession
) -> None:
    terminals.bodies[TERMINAL] = json.dumps(EXAMPLE_STATUS).encode()[:100]
    error = await read_error(make_driver(session, terminals.status_url(TERMINAL)))
    assert error.reason == "malformed"
    assert "line 1 column 100" in str(error)


async def test_connection_cut_mid_body_is_malformed(
    terminals: FakeTerminals, session: aiohttp.ClientSession
) -> None:
    terminals.behaviour[TERMINAL] = "cut"
    error = await read_error(make_driver(session, terminals.status_url(TERMINAL)))
    assert error.reason == "malformed"


async def test_wrong_types_name_the_fields(
    terminals: FakeTerminals, session: aiohttp.ClientSession
) -> None:
    body = dict(EXAMPLE_STATUS, printer={"online": "yes"}, system={"battery_percent": 140.0})
    terminals.bodies[TERMINAL] = json.dumps(body).encode()
    error = await read_error(make_driver(session, terminals.status_url(TERMINAL)))
    assert error.reason == "malformed"
    assert "printer.online" in str(error)
    assert "system.battery_percent" in str(error)
    assert "yes" not in str(error)  # rejected input is never echoed


async def test_oversized_body_is_refused_without_reading_it_all(
    terminals: FakeTerminals, session: aiohttp.ClientSession
) -> None:
    terminals.behaviour[TERMINAL] = "endless"  # chunked: no Content-Length to trust
    driver = make_driver(session, terminals.status_url(TERMINAL), max_payload_bytes=100_000)
    error = await read_error(driver)
    assert error.reason == "too_large"
    assert "100000" in str(error)


async def test_slow_terminal_is_cut_off_by_the_timeout_and_others_still_answer(
    terminals: FakeTerminals, session: aiohttp.ClientSession
) -> None:
    terminals.behaviour["T-slow"] = "slow"
    slow = make_driver(session, terminals.status_url("T-slow"), terminal_id="T-slow")
    fast = make_driver(session, terminals.status_url(TERMINAL))
    slow_read = asyncio.create_task(slow.read())
    reading = await fast.read()
    assert reading.parts
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await slow_read


async def test_status_of_another_terminal_is_refused(
    terminals: FakeTerminals, session: aiohttp.ClientSession
) -> None:
    terminals.bodies["T-0452"] = json.dumps(EXAMPLE_STATUS).encode()
    driver = make_driver(session, terminals.status_url("T-0452"), terminal_id="T-0452")
    error = await read_error(driver)
    assert error.reason == "wrong_terminal"
    assert "T-0451" in str(error)


@pytest.mark.parametrize("case", sorted(EXPECTED))
async def test_golden_bodies(
    case: str, terminals: FakeTerminals, session: aiohttp.ClientSession
) -> None:
    terminals.bodies[TERMINAL] = (TESTDATA / case).read_bytes()
    driver = make_driver(session, terminals.status_url(TERMINAL))
    expected = EXPECTED[case]
    if "error" in expected:
        error = await read_error(driver)
        assert (error.reason, expected["message"] in str(error)) == (expected["error"], True), str(
            error
        )
    else:
        reading = await driver.read()
        assert sorted(reading.parts) == expected["parts"]
        assert dict(reading.device) == expected["device"]


def test_every_golden_body_has_an_expectation() -> None:
    bodies = {path.name for path in TESTDATA.iterdir() if path.name != "expected.json"}
    assert bodies == set(EXPECTED)
