"""Tickets as the bridge shows them, and the facts one alert contributes to a ticket."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class TicketStatus(StrEnum):
    """Where a ticket is in its life."""

    OPEN = "open"
    """The fault fires; nobody has acknowledged it yet."""
    ACKNOWLEDGED = "acknowledged"
    """Someone took it."""
    RESOLVED = "resolved"
    """The fault cleared; the ticket closes after the grace period unless it fires again."""
    CLOSED = "closed"
    """Done; a re-fire within the reopen window reopens it."""


class EventKind(StrEnum):
    """Entries of a ticket's history."""

    OPENED = "opened"
    UPDATED = "updated"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    COMMENT = "comment"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    CLOSED = "closed"


Priority = Literal["urgent", "high", "normal", "low"]
SEVERITY_PRIORITY: dict[str, Priority] = {"critical": "urgent", "warning": "high", "info": "low"}
"""Ticket priority per alert severity; any other severity gives ``normal``."""

SYSTEM_ACTOR = "posfleet"
"""Actor of history entries the bridge writes itself (from Alertmanager's notifications)."""


def priority_of(severity: str | None) -> Priority:
    return SEVERITY_PRIORITY.get(severity or "", "normal")


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What one fault's alerts in one notification say, ready to be applied to its ticket."""

    key: str
    identity: str
    firing: bool
    alertname: str
    severity: str | None
    team: str | None
    component: str | None
    terminal: str | None
    store: str | None
    merchant: str | None
    region: str | None
    store_name: str | None
    store_address: str | None
    summary: str
    description: str | None
    runbook_url: str | None
    action: str | None
    generator_url: str | None
    starts_at: datetime
    ends_at: datetime | None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def priority(self) -> Priority:
        return priority_of(self.severity)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class HistoryEntry(_View):
    """One change of a ticket: when, what, who, and a note."""

    at: datetime
    kind: EventKind
    actor: str
    text: str


class RemoteLink(_View):
    """The ticket's issue in a ticketing system."""

    system: str
    remote_id: str
    url: str | None


class Ticket(_View):
    """A maintenance ticket: one fault at one terminal (or store), with its evidence."""

    id: int
    key: str
    """Stable key of the fault (``pf-`` + 16 hex digits), the same across reopenings."""
    tag: str
    """Tag written into the ticketing systems (``<key>-<id>``), unique per ticket."""
    identity: str
    """The labels the key is derived from, one ``name=value`` a line."""
    status: TicketStatus
    priority: Priority
    severity: str | None
    team: str | None
    alertname: str
    component: str | None
    terminal: str | None
    store: str | None
    store_name: str | None
    store_address: str | None
    merchant: str | None
    region: str | None
    summary: str
    description: str | None
    action: str | None
    """The runbook's suggested action."""
    runbook_url: str | None
    generator_url: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    assignee: str | None
    acknowledged_by: str | None
    opened_at: datetime
    updated_at: datetime
    fired_at: datetime
    """When the fault started (the alert's startsAt) in its latest firing."""
    resolved_at: datetime | None
    close_after: datetime | None
    """When a resolved ticket closes unless the fault fires again."""
    closed_at: datetime | None
    reopen_count: int
    notification_count: int
    """Notifications received for this fault (repeats and HA copies included)."""
    remote: list[RemoteLink] = []
    history: list[HistoryEntry] | None = None
    """Present when one ticket is fetched."""
