"""Turning rows into what people read: status sentences, times in the store's zone, names,
and inline SVG charts (server-rendered, no script, readable without colour)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup, escape

from posfleet.alerts.bridge.model import Ticket
from posfleet.config.models import PosfleetConfig
from posfleet.payments.groups import CauseGroup
from posfleet.web.data import HourRow, TerminalRow
from posfleet.web.i18n import Translator

CAUSES_SHOWN: Final = tuple(g.value for g in CauseGroup if g is not CauseGroup.APPROVED)


@dataclass(frozen=True)
class Names:
    """Names, time zones and addresses from the configuration's inventory (ids otherwise)."""

    merchants: Mapping[str, str] = field(default_factory=dict)
    stores: Mapping[str, str] = field(default_factory=dict)
    timezones: Mapping[str, str] = field(default_factory=dict)
    addresses: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, config: PosfleetConfig) -> Names:
        return cls(
            merchants={m.id: m.name for m in config.merchants},
            stores={s.id: s.name for s in config.stores},
            timezones={s.id: s.timezone for s in config.stores},
            addresses={
                s.id: f"{s.address.street}, {s.address.city}" for s in config.stores if s.address
            },
        )

    def merchant(self, merchant_id: str | None) -> str:
        return self.merchants.get(merchant_id or "", merchant_id or "")

    def store(self, store_id: str | None) -> str:
        return self.stores.get(store_id or "", store_id or "")

    def zone(self, store_id: str | None) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezones.get(store_id or "", "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


def local_time(moment: datetime | None, zone: ZoneInfo, now: datetime | None = None) -> str:
    """``10:42`` today, ``11-24 10:42`` another day, in ``zone`` (named when not UTC-less)."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    text = local.strftime("%H:%M") if local.date() == today else local.strftime("%Y-%m-%d %H:%M")
    return f"{text} {local.tzname() or ''}".strip()


def issue_text(t: Translator, issue: Mapping[str, Any]) -> str:
    code = str(issue.get("code", ""))
    params = dict(issue.get("params") or {})
    if code == "paper_low" and "minutes" not in params:
        return t("status.paper_low_soon")
    if code == "network_unstable":
        return t("status.network_unstable")
    return t(f"status.{code}", **params)


@dataclass(frozen=True)
class StatusLine:
    code: str
    text: str


def status_lines(t: Translator, row: TerminalRow, zone: ZoneInfo) -> list[StatusLine]:
    """The sentences of a terminal's status, most pressing first (``ready`` alone when fine)."""
    if row.status == "offline":
        return [StatusLine("offline", t("status.offline", time=local_time(row.received_at, zone)))]
    if not row.issues:
        return [StatusLine("ready", t("status.ready"))]
    return [StatusLine(str(i.get("code")), issue_text(t, i)) for i in row.issues]


TICKET_LINES: Final = {"technician": "ticket.line_technician", "merchant": "ticket.line_merchant"}
"""The sentence under a terminal per ticket team; IT's (and unknown teams') otherwise."""


def ticket_line(t: Translator, ticket: Ticket, zone: ZoneInfo) -> str:
    key = TICKET_LINES.get(ticket.team or "", "ticket.line_it")
    return t(key, id=ticket.id, time=local_time(ticket.opened_at, zone))


def _bars(
    values: Sequence[float | None],
    labels: Sequence[str],
    *,
    title: str,
    unit_max: float,
    describe: str,
) -> Markup:
    """A bar chart as inline SVG; missing values are drawn as a hatched stub."""
    width, height, left, bottom = 720, 160, 36, 22
    count = max(1, len(values))
    slot = (width - left) / count
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}: {escape(describe)}" focusable="false">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width}" '
        f'y2="{height - bottom}"/>',
        '<text class="tick" x="0" y="12">100%</text>',
        f'<text class="tick" x="0" y="{height - bottom}">0%</text>',
    ]
    plot = height - bottom - 8
    for index, value in enumerate(values):
        x = left + index * slot + 1
        if value is None:
            parts.append(
                f'<rect class="bar-none" x="{x:.1f}" y="{height - bottom - 3}" '
                f'width="{max(1.0, slot - 2):.1f}" height="3"/>'
            )
        else:
            bar = max(0.0, min(1.0, value / unit_max)) * plot
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{height - bottom - bar:.1f}" '
                f'width="{max(1.0, slot - 2):.1f}" height="{bar:.1f}"/>'
            )
        if index % max(1, count // 6) == 0:
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{height - 6}">{escape(labels[index])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def history_charts(
    t: Translator, hours: Sequence[HourRow], zone: ZoneInfo
) -> dict[str, Markup]:
    """Availability and success ratio per hour, as SVG with a spoken summary."""
    labels = [h.hour.astimezone(zone).strftime("%H:%M") for h in hours]
    availability = [h.availability for h in hours]
    success = [h.success_ratio for h in hours]
    known = [v for v in success if v is not None]
    avg_availability = sum(availability) / len(availability) if availability else None
    avg_success = sum(known) / len(known) if known else None
    return {
        "availability": _bars(
            availability, labels, title=t("history.availability"), unit_max=1.0,
            describe=t("history.average", value=percent(avg_availability)),
        ),
        "success": _bars(
            success, labels, title=t("history.success"), unit_max=1.0,
            describe=t("history.average", value=percent(avg_success)),
        ),
    }
