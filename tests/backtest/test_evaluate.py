"""Alert state (``for``, ``keep_firing_for``), the bridge's ticket rules and the judgement of
tickets, on hand-made range-query results (no server needed: these are pure functions of the
query results)."""

from __future__ import annotations

from datetime import timedelta

from posfleet.alerts.bridge.store import Policy
from posfleet.backtest.episodes import Fault
from posfleet.backtest.evaluate import Ticket, firings, tickets
from posfleet.backtest.report import analyse
from posfleet.backtest.rules import AlertRule, duration_seconds, load_rules, metric_names
from posfleet.backtest.tsdb import Series

STEP = 60
LABELS = {"terminal": "T-1", "store": "S-1", "merchant": "M-1", "region": "r"}


def _rule(for_: float = 0, keep: float = 0) -> AlertRule:
    return AlertRule("A", "x", for_, keep, (("component", "printer"),), "test")


def _series(*minutes: int) -> Series:
    return Series(dict(LABELS), [m * STEP for m in minutes], [1.0] * len(minutes))


def test_for_delays_and_drops_short_runs() -> None:
    rule = _rule(for_=180)
    # Present minutes 0-1 (too short), then 5-10.
    got = firings(rule, _series(0, 1, *range(5, 11)), STEP, 20 * STEP)
    assert [(f.pending_since, f.start, f.end) for f in got] == [(300, 480, 660)]
    assert got[0].labels["alertname"] == "A"
    assert got[0].labels["component"] == "printer"


def test_keep_firing_for_bridges_gaps() -> None:
    rule = _rule(keep=180)
    got = firings(rule, _series(0, 1, 3, 4, 10), STEP, 20 * STEP)
    # Absent at 2 (kept), back at 3-4, absent from 5: resolved at 8 (5 + 3 min); 10 anew,
    # absent from 11: resolved at 14.
    assert [(f.start, f.end) for f in got] == [(0, 480), (600, 840)]


def test_tickets_grace_reopen_and_new() -> None:
    rule = _rule()
    series = _series(0, 1, 4, 40, 2000)
    got = tickets(firings(rule, series, STEP, 3000 * STEP), 3000 * STEP,
                  Policy(close_grace=timedelta(minutes=5), reopen_window=timedelta(hours=24)))
    # 0-1 and 4: within the grace (resolved at 2, closes at 7) -> one span; 40 reopens;
    # 2000 min later (> 24 h after closing) is a new ticket.
    assert len(got) == 2
    first, second = got
    assert first.spans == [(0, 600), (2400, 2760)]
    assert first.reopened == 1
    assert second.opened == 2000 * STEP
    assert second.spans == [(2000 * STEP, 2001 * STEP + 300)]


def test_rule_parsing() -> None:
    assert duration_seconds("1h30m") == 5400
    assert metric_names(
        'sum by (store) (rate(posfleet_x_total{a="b"}[5m])) > on () group_left () y:z{n="q"}'
    ) == {"posfleet_x_total", "y:z"}
    rules = load_rules([__import__("pathlib").Path("alerts")])
    assert all(dict(a.labels).get("component") for a in rules.alerts), "every alert has one"
    assert "posfleet_printer_paper_state" in rules.raw_metrics
    assert "posfleet_card_reads_total" in rules.range_metrics
    assert "posfleet_printer_paper_state" not in rules.range_metrics
    # policy:... reads raw series only; merchant_region:... reads store:... (second layer).
    layers = [{r.record for r in layer} for layer in rules.recording_layers]
    assert "policy:posfleet_threshold:max" in layers[0]
    assert "merchant_region:posfleet_transactions:rate5m" in layers[1]


def _ticket(opened: int, closed: int | None) -> Ticket:
    return Ticket("k", "CertificateExpiring", "certificate", "T-1", "S-1", "M-1", opened,
                  [(opened, closed)])


def _fault(start: float, end: float | None, terminal: str = "T-1") -> Fault:
    return Fault("F-1", "certificate_expired", "firmware", terminal, "S-1", "M-1", start, end)


def test_a_ticket_is_false_only_when_no_fault_came_while_it_could_have() -> None:
    horizon, end_of_history = 4 * 3600, 30 * 86400.0
    day = 86400
    cases = [
        # A certificate ticket opened a week ahead, open until the certificate expired.
        (_ticket(0, 7 * day + 60), [_fault(7 * day, None)], False),
        # Closed after a day, and nothing went wrong within the horizon or while open.
        (_ticket(0, day), [_fault(7 * day, None)], True),
        # A fault on another terminal of the store does not excuse it.
        (_ticket(0, day), [_fault(3600, 7200, terminal="T-2")], True),
        # Still open when the history ends, no fault yet: it cannot be judged.
        (_ticket(29 * day, None), [], None),
    ]
    for ticket, faults, expected in cases:
        opening = analyse([ticket], [], faults, horizon, end_of_history).openings[0]
        assert opening.false is expected, (ticket, faults)
