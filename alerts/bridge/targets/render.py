"""Ticket text for people: the subject and the body written into ticketing systems."""

from __future__ import annotations

from posfleet.alerts.bridge.model import Ticket

SUBJECT_LIMIT = 255
"""Redmine's and Jira's limit on the subject/summary."""


def place(ticket: Ticket) -> str:
    parts = []
    if ticket.terminal:
        parts.append(f"terminal {ticket.terminal}")
    if ticket.store:
        name = f' "{ticket.store_name}"' if ticket.store_name else ""
        parts.append(f"store {ticket.store}{name}")
    if not parts and ticket.region:
        parts.append(f"region {ticket.region}")
    return " at ".join(parts) or "the fleet"


def subject(ticket: Ticket) -> str:
    """``[<tag>] <summary> (<place>)``: the tag first, so a truncated subject keeps it."""
    text = f"[{ticket.tag}] {ticket.summary} ({place(ticket)})"
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1] + "…"


def body(ticket: Ticket) -> str:
    """Everything a technician needs on site, then the evidence."""
    lines = [ticket.summary, ""]
    lines.append(
        f"Priority: {ticket.priority} (severity {ticket.severity or 'unknown'}); "
        f"team: {ticket.team or 'unassigned'}"
    )
    lines.append(f"Where: {place(ticket)}")
    if ticket.store_address:
        lines.append(f"Address: {ticket.store_address}")
    if ticket.merchant or ticket.region:
        lines.append(f"Merchant: {ticket.merchant or '-'}; region: {ticket.region or '-'}")
    lines.append(f"Component: {ticket.component or '-'}")
    lines.append(f"Fault since: {ticket.fired_at.isoformat()}")
    lines.append("")
    lines.append(f"Suggested action: {ticket.action or 'see the runbook'}")
    if ticket.runbook_url:
        lines.append(f"Runbook: {ticket.runbook_url}")
    lines.append("")
    lines.append("Evidence:")
    if ticket.description:
        lines.append(ticket.description)
    for name, value in sorted(ticket.annotations.items()):
        if name not in ("summary", "description", "action", "runbook_url"):
            lines.append(f"  {name}: {value}")
    lines.append("Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(ticket.labels.items())))
    if ticket.generator_url:
        lines.append(f"Source: {ticket.generator_url}")
    lines.append("")
    lines.append(f"posfleet ticket {ticket.tag} (fault key {ticket.key})")
    return "\n".join(lines)
