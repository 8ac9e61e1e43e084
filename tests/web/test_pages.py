"""Pages and the JSON API as users see them: plain-language status from the status store,
tickets from the real bridge, cases, history, the fleet view, the ticket queue's actions,
languages, bad input, and what happens when the bridge is gone."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from posfleet.config.models import PosfleetConfig
from posfleet.web.app import create_app
from posfleet.web.context import WebContext
from posfleet.web.data import StatusReader
from tests.web.conftest import TEST_HASHER, csrf_of, login
from tests.web.support import (
    World,
    alert,
    now_utc,
    open_ticket,
    snapshot,
    write_status,
)


def terminal_block(html: str, terminal: str) -> str:
    match = re.search(rf'<li class="card terminal" data-terminal="{terminal}">(.*?)</li>', html,
                      re.S)
    assert match, f"no card for {terminal}"
    return match.group(1)


def statuses(html: str) -> list[str]:
    return re.findall(r'data-status="([a-z_]+)"', html)


def test_a_merchant_sees_each_terminal_in_plain_words_with_its_ticket(
    client: TestClient, world: World
) -> None:
    assert login(client, "alice").status_code == 303

    page = client.get("/stores/S-A1")

    assert page.status_code == 200
    ready = terminal_block(page.text, "T-A1")
    assert statuses(ready) == ["ready"]
    assert "Ready" in ready
    low = terminal_block(page.text, "T-A2")
    assert statuses(low)[0] == "paper_low"
    assert re.search(r"Receipt paper low: replace the roll within about 1\d minutes\.", low)
    ticket = world.tickets["T-A2"]
    assert re.search(rf"Technician visit booked: ticket {ticket}, opened \d\d:\d\d CET", low)
    assert "Europaplatz 1, Berlin" in page.text
    assert "49.90 EUR" in page.text
    assert "625800******1234" in page.text


def test_the_line_under_a_terminal_says_who_acts_on_its_ticket(
    client: TestClient, world: World
) -> None:
    merchant = open_ticket(world.bridge_url, alert("T-A3", "PrinterCoverOpen",
                                                   "Printer cover open at T-A3", team="merchant",
                                                   starts_at=now_utc()))
    it = open_ticket(world.bridge_url, alert("T-A3", "NetworkPacketLoss",
                                             "Packet loss at T-A3", team="it",
                                             starts_at=now_utc()))
    assert login(client, "alice").status_code == 303

    card = terminal_block(client.get("/stores/S-A2").text, "T-A3")

    assert re.search(rf"Your staff can fix this \(see above\): ticket {merchant}, opened", card)
    assert re.search(rf"IT is on it: ticket {it}, opened", card)
    assert "Technician visit booked" not in card


def test_the_store_history_shows_why_payments_failed_with_what_to_do(
    client: TestClient,
) -> None:
    assert login(client, "alice").status_code == 303

    page = client.get("/stores/S-A1").text

    rows = dict(re.findall(r'<tr data-cause="(\w+)"><th scope="row">[^<]*</th><td>(\d+)</td>',
                           page))
    assert rows["issuer_refusal"] == "1"
    assert rows["network"] == "1"
    assert rows["operator_error"] == "1"
    assert rows["device_fault"] == "0"
    assert "4 payment attempts, 1 approved." in page
    assert "ask for another card" in page
    assert page.count('<svg class="chart"') == 2


def test_the_history_api_counts_attempts_by_cause_and_time_online(client: TestClient) -> None:
    assert login(client, "alice").status_code == 303

    history = client.get("/api/v1/terminals/T-A1/history?hours=3").json()

    assert len(history["hours"]) == 3
    assert history["attempts"] == 4
    assert history["causes"]["approved"] == 1
    assert history["causes"]["issuer_refusal"] == 1
    online = sum(hour["online_minutes"] for hour in history["hours"])
    assert online in (10, 11)  # ten minutes of snapshots a minute apart, not minute-aligned
    assert all(hour["terminals"] == 1 for hour in history["hours"])


def test_a_terminal_goes_from_ready_to_paper_low_when_its_snapshot_says_so(
    client: TestClient, world: World
) -> None:
    assert login(client, "alice").status_code == 303
    assert statuses(terminal_block(client.get("/stores/S-A1").text, "T-A1")) == ["ready"]

    write_status(world.config, [snapshot("T-A1", now_utc(), paper="near_end", lines=200)])

    card = terminal_block(client.get("/stores/S-A1").text, "T-A1")
    assert statuses(card) == ["paper_low"]
    assert "Receipt paper low: replace the roll soon." in card
    write_status(world.config, [snapshot("T-A1", now_utc(), paper="ok", lines=210)])
    assert statuses(terminal_block(client.get("/stores/S-A1").text, "T-A1")) == ["ready"]


def test_a_terminal_without_news_for_the_stale_time_shows_as_not_connected(
    world: World,
) -> None:
    later = now_utc() + timedelta(hours=2)
    app = create_app(WebContext.from_config(world.config, clock=lambda: later,
                                            password_hasher=TEST_HASHER))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert login(client, "alice").status_code == 303
        card = terminal_block(client.get("/stores/S-A1").text, "T-A1")
        api = client.get("/api/v1/terminals/T-A1").json()

    assert statuses(card) == ["offline"]
    assert "Not connected: no report since" in card
    assert api["state"] == "offline"
    assert api["ready"] is False


def test_languages_come_from_the_browser_and_the_switch_wins(client: TestClient) -> None:
    assert login(client, "alice").status_code == 303

    chinese = client.get("/stores/S-A1", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-CN">' in chinese.text
    assert "可以收款" in chinese.text
    assert "小票纸快用完" in chinese.text

    switched = client.get("/language?lang=en&next=/stores/S-A1", follow_redirects=False)
    assert switched.status_code == 303
    assert switched.headers["location"] == "/stores/S-A1"
    english = client.get("/stores/S-A1", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in english.text
    assert "Ready" in english.text

    client.cookies.set("posfleet_lang", "zh-CN")
    api = client.get("/api/v1/terminals/T-A3")
    assert api.json()["issues"][0]["message"] == "网络不稳定：银行卡支付可能超时。"  # noqa: RUF001


def test_the_language_switch_only_redirects_within_the_site(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        answer = client.get("/language", params={"lang": "zh-CN", "next": target},
                            follow_redirects=False)
        assert answer.headers["location"] == "/"
    assert client.get("/language?lang=fr").status_code == 400


def test_the_fleet_view_filters_and_counts_terminals(client: TestClient) -> None:
    assert login(client, "it-admin").status_code == 303

    everything = client.get("/fleet").text
    east = client.get("/fleet?region=cn-east").text
    attention = client.get("/api/v1/fleet?state=degraded").json()

    assert set(re.findall(r'<tr data-terminal="([\w-]+)">', everything)) == {
        "T-A1", "T-A2", "T-A3", "T-B1", "T-B2"}
    assert set(re.findall(r'<tr data-terminal="([\w-]+)">', east)) == {"T-B1", "T-B2"}
    assert 'data-count="total">2 terminals' in east
    assert {t["terminal_id"] for t in attention["terminals"]} >= {"T-A3", "T-B1"}
    assert attention["counts"]["degraded"] == len(attention["terminals"])
    store = client.get("/fleet?store=S-B1&merchant=M-B").text
    assert set(re.findall(r'<tr data-terminal="([\w-]+)">', store)) == {"T-B1", "T-B2"}


def test_it_handles_a_ticket_through_the_queue_and_the_bridge_records_it(
    client: TestClient, world: World
) -> None:
    ticket = open_ticket(world.bridge_url, alert("T-B2", "NetworkLatencyHigh",
                                                 "Acquirer latency high at T-B2", team="it",
                                                 starts_at=now_utc()))
    assert login(client, "it-admin").status_code == 303
    queue = client.get("/tickets?status=open")
    assert f'<tr data-ticket="{ticket}">' in queue.text

    csrf = csrf_of(client)
    for action, form in (
        ("acknowledge", {}),
        ("assign", {"assignee": "Wang Technician"}),
        ("comment", {"text": "Router replaced at 10:40"}),
        ("close", {"reason": "line fixed"}),
    ):
        answer = client.post(f"/tickets/{ticket}/{action}", data={"csrf_token": csrf, **form},
                             follow_redirects=False)
        assert answer.status_code == 303, (action, answer.text[:300])
        assert answer.headers["location"] == f"/tickets/{ticket}?done={action}"

    shown = client.get(f"/tickets/{ticket}?done=close").text
    assert 'data-ticket-status="closed"' in shown
    assert 'data-done="close"' in shown
    remote = client.get(f"/api/v1/tickets/{ticket}").json()
    assert remote["status"] == "closed"
    assert remote["assignee"] == "Wang Technician"
    assert [e["kind"] for e in remote["history"]][-4:] == [
        "acknowledged", "assigned", "comment", "closed"]
    assert remote["history"][-1]["actor"] == "it-admin"

    again = client.post(f"/tickets/{ticket}/close", data={"csrf_token": csrf},
                        follow_redirects=False)
    assert again.status_code == 409


def test_bad_input_names_the_field_is_counted_and_shows_no_traceback(
    client: TestClient,
) -> None:
    assert login(client, "it-admin").status_code == 303

    page = client.get("/fleet?state=sideways")
    api = client.get("/api/v1/fleet?limit=0")
    form = client.post("/tickets/1/assign", data={"csrf_token": csrf_of(client)})

    assert page.status_code == 400
    assert "state" in page.text
    assert "Traceback" not in page.text
    assert api.status_code == 422
    assert any(message.startswith("query.limit:") for message in api.json()["detail"])
    assert form.status_code == 400
    assert "assignee: required" in form.text
    metrics = client.get("/metrics").text
    assert 'posfleet_web_invalid_input_total{route="/fleet"} 1.0' in metrics
    assert 'posfleet_web_invalid_input_total{route="/api/v1/fleet"} 1.0' in metrics


def test_when_the_bridge_is_gone_pages_still_show_status_and_say_tickets_are_unavailable(
    world: World,
) -> None:
    web = world.config.web.model_copy(update={"tickets_url": "http://127.0.0.1:9"})
    config = world.config.model_copy(update={"web": web})
    assert isinstance(config, PosfleetConfig)
    app = create_app(WebContext.from_config(config, password_hasher=TEST_HASHER))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert login(client, "alice").status_code == 303
        page = client.get("/stores/S-A1")
        api = client.get("/api/v1/tickets")
        metrics = client.get("/metrics").text

    assert page.status_code == 200
    assert "Tickets are unavailable right now" in page.text
    assert 'data-terminal="T-A1"' in page.text
    assert api.status_code == 503
    assert re.search(r"posfleet_web_tickets_unavailable_total [1-9]", metrics)


def test_every_answer_carries_security_headers_and_pages_load_nothing_from_elsewhere(
    client: TestClient,
) -> None:
    assert login(client, "alice").status_code == 303
    page = client.get("/stores/S-A1")

    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    assert not re.search(r'(src|href)="(https?:)?//', page.text)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text
    css = client.get("/static/web.css")
    assert css.status_code == 200
    assert "@media (max-width: 40rem)" in css.text


def test_pages_have_the_accessibility_basics(client: TestClient, world: World) -> None:
    assert login(client, "it-admin").status_code == 303
    pages = ("/fleet", "/stores", "/stores/S-A1", "/terminals/T-A2", "/tickets",
             f"/tickets/{world.tickets['T-A2']}", "/cases", f"/cases/{world.cases['M-A']}",
             "/account")
    for language, path in [(lang, page) for lang in ("en", "zh-CN") for page in pages]:
        client.cookies.set("posfleet_lang", language)
        answer = client.get(path)
        assert answer.status_code == 200, (language, path)
        html = answer.text
        assert f'<html lang="{language}">' in html, path
        assert not re.search(r">\s*(status|ticket|cause|nav|case)\.[a-z_.]+\s*<", html), (
            language, path)  # no catalogue key shown instead of a sentence
        assert '<a class="skip" href="#main">' in html, path
        levels = [int(level) for level in re.findall(r"<h([1-6])", html)]
        assert levels, path
        assert levels[0] == 1, path
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), (path, levels)
        for control in re.findall(r'<(?:input|select|textarea)\b[^>]*>', html):
            if 'type="hidden"' in control:
                continue
            ident = re.search(r'id="([^"]+)"', control)
            assert ident, (path, control)
            assert f'for="{ident.group(1)}"' in html, (path, control)


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    assert login(client, "alice").status_code == 303
    client.get("/stores/S-A1")
    client.get("/stores/S-A2")

    text = client.get("/metrics").text

    assert re.search(
        r'posfleet_web_requests_total\{method="GET",route="/stores/\{store_id\}",status="200"\} 2',
        text,
    )
    assert 'posfleet_web_request_duration_seconds_bucket{le="0.2",route="/stores/{store_id}"}' \
        in text


def test_it_pages_link_into_grafana_when_it_is_configured_and_merchants_see_no_link(
    world: World,
) -> None:
    web = world.config.web.model_copy(update={"grafana_url": "https://grafana.example.com"})
    config = world.config.model_copy(update={"web": web})
    assert isinstance(config, PosfleetConfig)
    app = create_app(WebContext.from_config(config, password_hasher=TEST_HASHER))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert login(client, "it-admin").status_code == 303
        store = client.get("/stores/S-A1").text
        terminal = client.get("/terminals/T-A1").text
        fleet = client.get("/fleet").text
        client.cookies.clear()
        assert login(client, "alice").status_code == 303
        merchant = client.get("/stores/S-A1").text

    assert 'href="https://grafana.example.com/d/posfleet-store?var-store=S-A1"' in store
    assert 'href="https://grafana.example.com/d/posfleet-terminal?var-terminal=T-A1"' in terminal
    assert 'href="https://grafana.example.com/d/posfleet-fleet"' in fleet
    assert "grafana.example.com" not in merchant


def test_a_status_store_that_does_not_answer_gives_503_not_a_traceback(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> None:
    context = WebContext.from_config(world.config, password_hasher=TEST_HASHER)
    gone = tmp_path_factory.mktemp("gone") / "missing-dir" / "status.sqlite3"
    context.status = StatusReader(create_engine(f"sqlite:///{gone}"), timedelta(hours=1))
    with TestClient(create_app(context), base_url="http://127.0.0.1") as client:
        assert login(client, "alice").status_code == 303
        page = client.get("/stores/S-A1")
        api = client.get("/api/v1/fleet")

    assert page.status_code == 503
    assert "database unavailable" in page.text
    assert "Traceback" not in page.text
    assert api.status_code == 503
    assert api.headers["retry-after"] == "5"
