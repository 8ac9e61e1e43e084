"""The issue's browser scenario: a shop owner signs in, watches a simulated terminal go from
"Ready" to "paper low" as the simulator drives it, sees its ticket, and switches to Chinese.

Everything behind the page is real and wired as deployed (as in
tests/alerts/test_end_to_end.py, whose time scaling this test shares): the simulator serves
the fleet of ``deploy/scenarios/paper-runs-out.yml`` over HTTP; the edge collector polls it,
writes the status store through its ``status_store`` output and serves /metrics; Prometheus
evaluates the shipped printer and recording rules (``for:`` durations divided by the
scenario's speed);
Alertmanager runs the shipped routes with the bridge receiver pointed at a real ticket bridge
(uvicorn, SQLite); the web app (uvicorn) reads the status store and the bridge's REST API.
The browser is the system Chromium through Playwright's async API; a screenshot is saved
at every step.

One change to the scenario: the near-end sensor trips at 12:36 instead of 12:30 simulated
time (16 instead of 10 real seconds after the start at speed 60), so that the shop owner has
seen the terminal "Ready" before it changes, even on a busy machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.async_api import Browser as AsyncBrowser
from playwright.async_api import Page as AsyncPage

from posfleet.alerts.bridge.bridge import TicketBridge
from posfleet.alerts.bridge.inventory import Inventory
from posfleet.collector.app import CollectorApp
from posfleet.config import PosfleetConfig, parse_config
from posfleet.config.models import TicketsSettings
from posfleet.exporters.outputs import build_outputs
from posfleet.simulator.config_writer import TOKEN_ENV, fleet_config_yaml
from posfleet.simulator.fleet import generate_fleet
from posfleet.simulator.runner import RunOptions, Simulation
from posfleet.simulator.scenario import load_scenario
from posfleet.stack.alertmanager import config_for_bridge
from posfleet.web.accounts import ensure_user
from posfleet.web.app import create_app
from posfleet.web.context import WebContext, status_database
from tests.alerts.bridge.support import serving
from tests.alerts.support.clocks import SimulatedWallClock
from tests.alerts.support.scaled_rules import write_scaled_rule_files
from tests.fixtures.browser import Screenshots
from tests.fixtures.net import LOOPBACK, free_port
from tests.fixtures.servers import AlertmanagerFactory, PrometheusFactory, scrape_job
from tests.web.conftest import TEST_HASHER

ROOT = Path(__file__).resolve().parents[3]
SCENARIO = ROOT / "deploy" / "scenarios" / "paper-runs-out.yml"
LOCALES = ROOT / "posfleet" / "web" / "locales"
# The printer rules and the recording rules they use. The other rule files are left out:
# rules that compare snapshot timestamps with Prometheus's own clock (TerminalDataStale) would
# open tickets because the scenario's simulated day lies in the past.
RULE_FILES = [ROOT / "alerts" / "recording.yml", ROOT / "alerts" / "printer.yml"]
BRIDGE_TOKEN = "browser-bridge-token"
SIMULATOR_TOKEN = "browser-simulator-token"
OWNER, PASSWORD = "shop-owner", "shop-owner-password-1"
WAIT_SECONDS = 45.0
"""Real seconds to wait for each change to reach the page."""


def _catalogue_prefix(language: str, code: str, shown: str) -> str:
    """The fixed start (up to the first placeholder) of the catalogue sentence for ``code``
    that ``shown`` uses (``status.<code>`` or its ``_soon`` variant)."""
    catalogue = json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8"))
    prefixes = [
        str(catalogue[key]).split("{")[0]
        for key in (f"status.{code}", f"status.{code}_soon")
        if key in catalogue
    ]
    assert prefixes, f"no status.{code} in the {language} catalogue"
    return next((prefix for prefix in prefixes if prefix in shown), prefixes[0])


def _scenario_copy(target: Path) -> Path:
    text = SCENARIO.read_text(encoding="utf-8")
    moved = text.replace('{at: "12:30", kind: paper_near_end', '{at: "12:36", kind: paper_near_end')
    assert moved != text, "the shipped scenario no longer trips the sensor at 12:30"
    target.write_text(moved, encoding="utf-8")
    return target


def _config(written: str, root: Path, collector_listen: str, bridge_url: str) -> PosfleetConfig:
    """The simulator-written fleet config, plus the collector, its status store output and the
    web app, all in ``root``."""
    data = yaml.safe_load(written)
    data["collector"] = {
        "id": "edge-browser",
        "interval_seconds": 0.5,
        "timeout_seconds": 1.0,
        "offline_after_failures": 3,
        "backoff_max_seconds": 1.0,
        "listen": collector_listen,
    }
    data["buffer"] = {"directory": str(root / "buffer"), "max_bytes": 16 * 1024 * 1024}
    data["status_store"] = {
        "database": str(root / "status.sqlite3"),
        "write_in": "collector",
        "flush_interval_seconds": 0.3,
    }
    data["payments"] = {"database": str(root / "payments.sqlite3")}
    data["web"] = {
        "cookie_secure": False,
        "tickets_url": bridge_url,
        "tickets_token": BRIDGE_TOKEN,
    }
    return parse_config(yaml.safe_dump(data), "simulator-written config")


@contextlib.asynccontextmanager
async def _running(name: str, coroutine: Awaitable[None]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.ensure_future(coroutine)
    task.set_name(name)
    try:
        yield task
    finally:
        if not task.done():
            await asyncio.wait_for(asyncio.shield(task), 30)


async def _reload_until(
    page: AsyncPage, ready: Callable[[], Awaitable[bool]], what: str, seconds: float
) -> None:
    """Reload ``page`` (server-rendered: no live updates) until ``ready()``, for ``seconds``."""
    deadline = time.monotonic() + seconds
    while not await ready():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds:g} s waiting for {what}", pytrace=False)
        await asyncio.sleep(0.5)
        await page.reload()


async def _wait_for_ticket(bridge_url: str, terminal: str, alertname: str) -> dict[str, Any]:
    """The bridge's ticket for ``alertname`` at ``terminal``, once the alert has opened it."""
    deadline = time.monotonic() + WAIT_SECONDS
    async with httpx.AsyncClient(
        base_url=bridge_url, headers={"Authorization": f"Bearer {BRIDGE_TOKEN}"}, trust_env=False
    ) as client:
        while time.monotonic() < deadline:
            answer = await client.get("/api/v1/tickets", params={"terminal": terminal})
            assert answer.status_code == 200, answer.text
            for ticket in answer.json()["tickets"]:
                if ticket["alertname"] == alertname:
                    found: dict[str, Any] = ticket
                    return found
            await asyncio.sleep(0.5)
    pytest.fail(f"no {alertname} ticket for {terminal} after {WAIT_SECONDS:g} s", pytrace=False)


@pytest.mark.server
async def test_shop_owner_watches_paper_run_low_sees_the_ticket_and_reads_it_in_chinese(
    prometheus_factory: PrometheusFactory,
    alertmanager_factory: AlertmanagerFactory,
    async_chromium: AsyncBrowser,
    screenshots: Screenshots,
    tmp_path: Path,
) -> None:
    scenario = load_scenario(_scenario_copy(tmp_path / "scenario.yml"))
    (near_end,) = [fault for fault in scenario.faults if fault.kind == "paper_near_end"]
    terminal = near_end.target
    fleet = generate_fleet(scenario.parameters())
    spec = next(t for t in fleet.terminals if t.id == terminal)
    store, merchant = spec.store.id, spec.store.merchant.id
    collector_listen = f"{LOOPBACK}:{free_port()}"

    # Everything but the simulation and the collector starts first: the simulated clock
    # runs from the moment the simulation is created.
    with contextlib.ExitStack() as servers:
        # The fleet as the simulator will write it (the terminals' URLs are not known yet).
        fleet_yaml = fleet_config_yaml(
            fleet, http_base="http://placeholder.invalid", mqtt_url=None, escpos_ports={}
        )
        bridge = TicketBridge(
            TicketsSettings(
                database=str(tmp_path / "tickets.sqlite3"), bearer_tokens=[BRIDGE_TOKEN]
            ),
            Inventory(parse_config(fleet_yaml, "simulated fleet")),
        )
        bridge_url = servers.enter_context(serving(bridge.app))
        token_file = tmp_path / "bridge-token"
        token_file.write_text(BRIDGE_TOKEN)
        manager = alertmanager_factory(
            config=yaml.safe_dump(
                config_for_bridge(f"{bridge_url}/api/v1/alertmanager", token_file, wait="1s")
            )
        )
        prometheus_factory(
            scrape_configs=[scrape_job("posfleet-collector", [collector_listen])],
            rule_files=write_scaled_rule_files(RULE_FILES, tmp_path / "rules", scenario.speed),
            alertmanagers=[manager],
        )
        web_config = _config(fleet_yaml, tmp_path, collector_listen, bridge_url)
        context = await asyncio.to_thread(
            WebContext.from_config, web_config, password_hasher=TEST_HASHER
        )
        await asyncio.to_thread(
            ensure_user,
            status_database(web_config),
            OWNER,
            PASSWORD,
            "merchant",
            merchant,
            hasher=TEST_HASHER,
        )
        web_url = servers.enter_context(serving(create_app(context)))
        owner = await _signed_in(async_chromium, screenshots, web_url)

        simulation = Simulation(
            RunOptions(
                scenario=scenario,
                http_listen=(LOOPBACK, 0),
                token=SIMULATOR_TOKEN,
                write_config=tmp_path / "fleet.yml",
            )
        )
        stop_simulation, stop_collector = asyncio.Event(), asyncio.Event()
        async with _running("simulation", simulation.run(stop_simulation)):
            try:
                await asyncio.wait_for(simulation.ready.wait(), 20)
                config = _config(
                    (tmp_path / "fleet.yml").read_text(), tmp_path, collector_listen, bridge_url
                )
                # As `posfleet collect` wires it: the configured outputs (here the status
                # store) as the collector's sinks.
                outputs = await asyncio.to_thread(build_outputs, config, role="collector")
                collector = CollectorApp(
                    config,
                    outputs.sinks,
                    clock=SimulatedWallClock(simulation.clock),
                    environ={TOKEN_ENV: SIMULATOR_TOKEN},
                )
                outputs.register_metrics(collector.registry)
                await outputs.start()
                async with _running("collector", collector.run(stop_collector)):
                    try:
                        await _watch_and_switch_language(
                            owner, screenshots, web_url, bridge_url, terminal=terminal, store=store
                        )
                    finally:
                        stop_collector.set()
            finally:
                stop_simulation.set()
                await owner.context.close()


async def _signed_in(browser: AsyncBrowser, screenshots: Screenshots, web_url: str) -> AsyncPage:
    """A new browser context in English, signed in as the shop owner through the form."""
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = await context.new_page()
    await page.goto(f"{web_url}/login")
    await page.locator("#username").fill(OWNER)
    await page.locator("#password").fill(PASSWORD)
    await screenshots.take_async(page, "sign-in")
    await page.locator("#password").press("Enter")
    await page.wait_for_url(re.compile(r"/stores"))
    return page


async def _watch_and_switch_language(
    page: AsyncPage,
    screenshots: Screenshots,
    web_url: str,
    bridge_url: str,
    *,
    terminal: str,
    store: str,
) -> None:
    card = page.locator(f'[data-terminal="{terminal}"]')

    # The store appears once the collector has written the terminals' first snapshots.
    store_link = page.locator(f'[data-store="{store}"] a').first
    await _reload_until(page, store_link.is_visible, f"store {store} on /stores", WAIT_SECONDS)
    await screenshots.take_async(page, "stores")
    await store_link.click()
    await page.wait_for_url(re.compile(f"/stores/{store}"))

    # Ready first ...
    ready = card.locator('[data-status="ready"]')
    await _reload_until(page, ready.is_visible, f"{terminal} shown ready", WAIT_SECONDS)
    assert (await ready.inner_text()).strip().endswith("Ready")
    await screenshots.take_async(page, "terminal-ready")

    # ... then paper low, when the simulated sensor trips.
    paper_low = card.locator('[data-status="paper_low"]')
    await _reload_until(page, paper_low.is_visible, f"{terminal} shown paper low", WAIT_SECONDS)
    sentence = (await paper_low.inner_text()).strip()
    assert "Receipt paper low: replace the roll" in sentence, sentence
    assert not await ready.is_visible()
    await screenshots.take_async(page, "terminal-paper-low")

    # The maintenance ticket the alert opened (asked of the bridge), shown under the terminal.
    ticket = await _wait_for_ticket(bridge_url, terminal, "PrinterPaperRunningOut")
    ticket_id = ticket["id"]
    ticket_line = card.locator(f'p.ticket-line[data-ticket="{ticket_id}"]')
    await _reload_until(page, ticket_line.is_visible, f"ticket {ticket_id} on the page", 20)
    line = (await ticket_line.inner_text()).strip()
    await screenshots.take_async(page, "ticket-shown")
    assert f"ticket {ticket_id}, opened" in line, line
    # The shop's own staff changes paper (the alert's team is "merchant"): the line must not
    # tell the owner that someone else is handling it.
    assert ticket["team"] == "merchant"
    assert "IT is on it" not in line, f"a {ticket['team']} ticket is shown as {line!r}"
    assert "Technician" not in line, f"a {ticket['team']} ticket is shown as {line!r}"

    # Details one click away: the ticket page.
    await ticket_line.locator("a").click()
    await page.wait_for_url(re.compile(f"/tickets/{ticket_id}"))
    assert str(ticket_id) in await page.locator("h1").inner_text()
    assert ticket["action"]
    assert ticket["action"] in await page.locator("main").inner_text()
    facts = page.locator(f'dl[data-ticket="{ticket_id}"]')
    assert terminal in await facts.inner_text()
    assert await facts.locator("[data-ticket-status]").get_attribute("data-ticket-status") in (
        "open",
        "acknowledged",
    )
    await screenshots.take_async(page, "ticket-page")

    # Switch to Simplified Chinese with the switch in the header; the choice sticks.
    await page.go_back()
    await page.locator('a[data-lang="zh-CN"]').click()
    await page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    assert re.search(f"/stores/{store}", page.url), page.url
    # The simulation has gone on (the roll may be empty by now): whatever the terminal's
    # status is, it reads as the Chinese catalogue says.
    status = card.locator("[data-status]").first
    code = await status.get_attribute("data-status") or "?"
    chinese = (await status.inner_text()).strip()
    assert _catalogue_prefix("zh-CN", code, chinese) in chinese, (code, chinese)
    assert "工单" in (await ticket_line.inner_text())
    assert "门店" in await page.locator("header nav").first.inner_text()
    await screenshots.take_async(page, "chinese")
    await page.goto(f"{web_url}/stores")
    assert await page.evaluate("() => document.documentElement.lang") == "zh-CN"
