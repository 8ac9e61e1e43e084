"""Match tickets to fault episodes and compute the figures of the report.

* An episode is **warned in time** when a ticket for its place (its terminal, or for a
  store-wide episode any ticket in the store; a ticket that names only the store counts for
  each of its terminals) and one of its components was open at, and opened before, the
  episode's first failure. Lead time: first failure minus the opening (or reopening).
* Each ticket opening (a ticket's first span or a reopening) is **in time** when a
  matching episode's first failure came while it was open (or within the horizon after it
  opened), **late** when it opened while a matching episode was already failing, and
  **noise** otherwise (no matching failure within the horizon).
* On simulated history, a ticket is **false** when its place (terminal, or store) had no
  fault of any kind (developing ones included: a roll past its near-end mark, a worn
  mechanism, a fading signal) active when it opened or starting within the horizon after or
  while the ticket stayed open (a certificate ticket opens weeks ahead). An opening whose
  window runs past the end of the history with no fault yet cannot be judged and is left
  out of the share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from posfleet.backtest.episodes import (
    ALERT_COMPONENTS,
    DEVICE_COMPONENTS,
    NETWORK_COMPONENTS,
    Episode,
    Fault,
)
from posfleet.backtest.evaluate import Ticket

DEFAULT_HORIZON: Final = 4 * 3600


def iso(at: float | None) -> str | None:
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def quantile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank quantile (None for no values): deterministic and one of the values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))
    return ordered[min(len(ordered), rank) - 1]


def _place_matches(ticket: Ticket, episode: Episode) -> bool:
    if ticket.store != episode.store:
        return False
    if not episode.terminal or not ticket.terminal:
        return True
    return ticket.terminal == episode.terminal


def _components(ticket: Ticket) -> frozenset[str]:
    return ALERT_COMPONENTS.get(ticket.component, frozenset())


@dataclass
class Match:
    episode: Episode
    ticket: Ticket | None = None
    lead: float | None = None


@dataclass
class Opening:
    ticket: Ticket
    start: int
    end: int | None
    verdict: str = "noise"
    """in_time, late or noise."""
    false: bool | None = None


@dataclass
class Analysis:
    matches: list[Match]
    openings: list[Opening]
    by_rule: dict[str, list[Match]] = field(default_factory=dict)


def analyse(
    tickets: Sequence[Ticket],
    episodes: Sequence[Episode],
    faults: Sequence[Fault] | None,
    horizon: float = DEFAULT_HORIZON,
    history_end: float | None = None,
) -> Analysis:
    by_store: dict[str, list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        by_store[ticket.store].append(ticket)
    matches: list[Match] = []
    by_rule: dict[str, list[Match]] = defaultdict(list)
    for episode in episodes:
        best = Match(episode)
        per_rule: dict[str, Match] = {}
        for ticket in by_store.get(episode.store, ()):
            if episode.component not in _components(ticket) or not _place_matches(ticket, episode):
                continue
            rule_match = per_rule.setdefault(ticket.alertname, Match(episode))
            for start, end in ticket.spans:
                if start < episode.first_failure and (end is None or end >= episode.first_failure):
                    lead = episode.first_failure - start
                    if best.lead is None or lead > best.lead:
                        best = Match(episode, ticket, lead)
                    if rule_match.lead is None or lead > rule_match.lead:
                        per_rule[ticket.alertname] = Match(episode, ticket, lead)
        matches.append(best)
        for name, match in per_rule.items():
            by_rule[name].append(match)
    episodes_by_store: dict[str, list[Episode]] = defaultdict(list)
    for episode in episodes:
        episodes_by_store[episode.store].append(episode)
    faults_by_store: dict[str, list[Fault]] = defaultdict(list)
    merchant_faults: dict[str, list[Fault]] = defaultdict(list)
    for fault in faults or ():
        if fault.store:
            faults_by_store[fault.store].append(fault)
        else:
            merchant_faults[fault.merchant].append(fault)
    openings = []
    for ticket in tickets:
        for start, end in ticket.spans:
            opening = Opening(ticket, start, end)
            related = [
                e for e in episodes_by_store.get(ticket.store, ())
                if e.component in _components(ticket) and _place_matches(ticket, e)
            ]  # fmt: skip
            if any(
                start < e.first_failure
                and (e.first_failure <= start + horizon or end is None or end >= e.first_failure)
                for e in related
            ):
                opening.verdict = "in_time"
            elif any(e.first_failure <= start <= e.last_failure for e in related):
                opening.verdict = "late"
            if faults is not None:
                candidates = faults_by_store.get(ticket.store, []) + merchant_faults.get(
                    ticket.merchant, []
                )
                judged_until = start + horizon if end is None else max(start + horizon, end)
                found = any(
                    (not ticket.terminal or not f.terminal or f.terminal == ticket.terminal)
                    and f.start <= judged_until
                    and (f.end is None or f.end >= start)
                    for f in candidates
                )
                censored = (
                    history_end is not None
                    and (end is None or judged_until > history_end)
                    and not found
                )
                opening.false = None if censored else not found
            openings.append(opening)
    return Analysis(matches, openings, dict(by_rule))


def _episode_figures(matches: Sequence[Match]) -> dict[str, Any]:
    leads = [m.lead for m in matches if m.lead is not None]
    return {
        "episodes": len(matches),
        "warned_in_time": len(leads),
        "warned_share": len(leads) / len(matches) if matches else None,
        "median_lead_seconds": quantile(leads, 0.5),
        "p10_lead_seconds": quantile(leads, 0.1),
    }


def _ticket_figures(openings: Sequence[Opening], terminal_days: float) -> dict[str, Any]:
    count = len(openings)
    tickets = len({id(o.ticket) for o in openings})
    noise = sum(o.verdict == "noise" for o in openings)
    late = sum(o.verdict == "late" for o in openings)
    judged = [o for o in openings if o.false is not None]
    return {
        "tickets": tickets,
        "openings": count,
        "tickets_per_1000_terminal_days": (
            1000 * tickets / terminal_days if terminal_days else None
        ),
        "no_failure_within_horizon_share": noise / count if count else None,
        "late": late,
        "late_share": late / count if count else None,
        "false_share": (sum(bool(o.false) for o in judged) / len(judged)) if judged else None,
        "false_unjudged": sum(o.false is None for o in openings) if judged else 0,
    }


def figures(
    analysis: Analysis, terminal_days: float
) -> dict[str, Any]:
    """Headline, per-rule and per-component figures."""
    matches = analysis.matches
    openings = analysis.openings
    rules: dict[str, dict[str, Any]] = {}
    names = sorted({o.ticket.alertname for o in openings} | set(analysis.by_rule))
    for name in names:
        rule_openings = [o for o in openings if o.ticket.alertname == name]
        comps = sorted({c for o in rule_openings for c in _components(o.ticket)})
        relevant = [m for m in matches if m.episode.component in comps]
        warned = {id(m.episode): m for m in analysis.by_rule.get(name, []) if m.lead is not None}
        rule_matches = [warned.get(id(m.episode), Match(m.episode)) for m in relevant]
        rules[name] = {
            "components": comps,
            **_episode_figures(rule_matches),
            **_ticket_figures(rule_openings, terminal_days),
        }
    components: dict[str, dict[str, Any]] = {}
    for component in sorted({m.episode.component for m in matches} | {
        c for o in openings for c in _components(o.ticket)
    }):
        comp_matches = [m for m in matches if m.episode.component == component]
        comp_openings = [o for o in openings if component in _components(o.ticket)]
        components[component] = {
            **_episode_figures(comp_matches),
            **_ticket_figures(comp_openings, terminal_days),
        }
    kinds = sorted({m.episode.fault_kind for m in matches if m.episode.fault_kind})
    fault_kinds = {
        kind: _episode_figures([m for m in matches if m.episode.fault_kind == kind])
        for kind in kinds
    }
    target = [
        m for m in matches if m.episode.component in DEVICE_COMPONENTS | NETWORK_COMPONENTS
    ]
    headline = {
        "device_and_network": _episode_figures(target),
        "all_episodes": _episode_figures(matches),
        **_ticket_figures(openings, terminal_days),
    }
    return {
        "headline": headline,
        "rules": rules,
        "components": components,
        "fault_kinds": fault_kinds,
    }


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    return {
        "key": ticket.key,
        "alertname": ticket.alertname,
        "component": ticket.component,
        "terminal": ticket.terminal or None,
        "store": ticket.store or None,
        "merchant": ticket.merchant or None,
        "opened": iso(ticket.opened),
        "closed": iso(ticket.closed),
        "spans": [{"opened": iso(s), "closed": iso(e)} for s, e in ticket.spans],
        "reopened": ticket.reopened,
    }


def episode_json(match: Match) -> dict[str, Any]:
    episode = match.episode
    return {
        "component": episode.component,
        "terminal": episode.terminal or None,
        "store": episode.store,
        "merchant": episode.merchant,
        "first_failure": iso(episode.first_failure),
        "last_failure": iso(episode.last_failure),
        "failures": episode.failures,
        "fault_id": episode.fault_id,
        "fault_kind": episode.fault_kind,
        "warned_in_time": match.lead is not None,
        "lead_seconds": match.lead,
        "ticket": match.ticket.key if match.ticket else None,
        "ticket_alert": match.ticket.alertname if match.ticket else None,
    }


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.0f} min"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def table(report: dict[str, Any]) -> str:
    """The report as a plain-text table for the terminal."""
    figures_ = report["figures"]
    head = figures_["headline"]
    target = head["device_and_network"]
    lines = [
        f"History: {report['history']['from']} to {report['history']['to']}, "
        f"{report['history']['terminals']} terminals, "
        f"{report['history']['terminal_days']:.0f} terminal-days; "
        f"{report['history']['skipped_lines']} of {report['history']['lines']} lines skipped",
        f"Episodes from: {report['episodes_from']}",
        "",
        f"Device and network episodes warned in time: {target['warned_in_time']}/"
        f"{target['episodes']} ({_share(target['warned_share'])}), median lead "
        f"{_minutes(target['median_lead_seconds'])}, 10th percentile "
        f"{_minutes(target['p10_lead_seconds'])}",
        f"Tickets: {head['tickets']} ({head['openings']} openings), "
        f"{head['tickets_per_1000_terminal_days'] or 0:.1f} per 1,000 terminal-days; "
        f"no failure within {report['horizon_seconds'] / 3600:g} h: "
        f"{_share(head['no_failure_within_horizon_share'])}; late: {head['late']}; "
        f"false (no fault on the terminal): {_share(head['false_share'])}"
        + (
            f" ({head['false_unjudged']} still open at the end with no fault yet: not judged)"
            if head.get("false_unjudged") else ""
        ),
        "",
    ]
    header = (
        f"{'':28} {'episodes':>8} {'warned':>7} {'median':>8} {'p10':>8} "
        f"{'tickets':>7} {'/1000td':>8} {'noise':>6} {'late':>5} {'false':>6}"
    )

    def row(name: str, data: dict[str, Any]) -> str:
        return (
            f"{name[:28]:28} {data['episodes']:>8} {_share(data['warned_share']):>7} "
            f"{_minutes(data['median_lead_seconds']):>8} {_minutes(data['p10_lead_seconds']):>8} "
            f"{data['tickets']:>7} {data['tickets_per_1000_terminal_days'] or 0:>8.1f} "
            f"{_share(data['no_failure_within_horizon_share']):>6} {data['late']:>5} "
            f"{_share(data['false_share']):>6}"
        )

    lines += ["Per component", header]
    lines += [row(name, data) for name, data in figures_["components"].items()]
    lines += ["", "Per rule", header]
    lines += [row(name, data) for name, data in figures_["rules"].items()]
    if figures_["fault_kinds"]:
        lines += ["", "Per fault kind (ground truth)", header[:64]]
        lines += [
            f"{name[:28]:28} {data['episodes']:>8} {_share(data['warned_share']):>7} "
            f"{_minutes(data['median_lead_seconds']):>8} {_minutes(data['p10_lead_seconds']):>8}"
            for name, data in figures_["fault_kinds"].items()
        ]
    if report["history"]["problems"]:
        lines += ["", "History problems (first ones):"]
        lines += [
            f"  line {p['line']}: {p['kind']}: {p['message']}"
            for p in report["history"]["problems"][:10]
        ]
    return "\n".join(lines)


def by_hour(openings: Iterable[Opening], start: float, end: float) -> list[int]:
    """Ticket openings per hour over the history."""
    hours = max(1, int((end - start) // 3600) + 1)
    counts = [0] * hours
    for opening in openings:
        index = int((opening.start - start) // 3600)
        if 0 <= index < hours:
            counts[index] += 1
    return counts
