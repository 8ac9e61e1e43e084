"""The report as one self-contained HTML file: figures, and two inline SVG charts (lead-time
distribution, ticket openings over time). No script, no downloads."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any, Final

WIDTH: Final = 720
HEIGHT: Final = 220
LEAD_BINS_MINUTES: Final = (0, 5, 10, 15, 30, 60, 120, 240, 480, 1440)


def _bars(values: Sequence[float], labels: Sequence[str], title: str, colour: str) -> str:
    top = max(values, default=0) or 1
    n = max(1, len(values))
    inner_w, inner_h = WIDTH - 60, HEIGHT - 50
    width = inner_w / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="50" y="14" font-size="13">{escape(title)}</text>',
        f'<line x1="50" y1="{20 + inner_h}" x2="{50 + inner_w}" y2="{20 + inner_h}" '
        'stroke="#444"/>',
        f'<text x="45" y="26" font-size="10" text-anchor="end">{top:g}</text>',
        f'<text x="45" y="{20 + inner_h}" font-size="10" text-anchor="end">0</text>',
    ]
    step = max(1, n // 12)
    for i, value in enumerate(values):
        h = inner_h * value / top
        x = 50 + i * width
        parts.append(
            f'<rect x="{x:.1f}" y="{20 + inner_h - h:.1f}" width="{max(width - 1, 0.5):.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{escape(labels[i])}: {value:g}</title></rect>'
        )
        if i % step == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 12}" font-size="9">{escape(labels[i])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def lead_histogram(leads_seconds: Sequence[float]) -> tuple[list[int], list[str]]:
    edges = [m * 60 for m in LEAD_BINS_MINUTES]
    counts = [0] * len(edges)
    for lead in leads_seconds:
        index = max(i for i, edge in enumerate(edges) if lead >= edge)
        counts[index] += 1
    labels = [
        f"{LEAD_BINS_MINUTES[i]}-{LEAD_BINS_MINUTES[i + 1]} min"
        if i + 1 < len(LEAD_BINS_MINUTES) else f">{LEAD_BINS_MINUTES[i]} min"
        for i in range(len(edges))
    ]  # fmt: skip
    return counts, labels


def _table(rows: dict[str, dict[str, Any]]) -> str:
    def share(v: Any) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    def minutes(v: Any) -> str:
        return "-" if v is None else f"{v / 60:.0f}"

    out = [
        "<table><tr><th></th><th>episodes</th><th>warned in time</th><th>median lead (min)</th>"
        "<th>p10 lead (min)</th><th>tickets</th><th>per 1,000 terminal-days</th>"
        "<th>no failure within horizon</th><th>late</th><th>false</th></tr>"
    ]
    for name, d in rows.items():
        out.append(
            f"<tr><th>{escape(name)}</th><td>{d['episodes']}</td><td>{share(d['warned_share'])}"
            f"</td><td>{minutes(d['median_lead_seconds'])}</td>"
            f"<td>{minutes(d['p10_lead_seconds'])}</td><td>{d['tickets']}</td>"
            f"<td>{(d['tickets_per_1000_terminal_days'] or 0):.1f}</td>"
            f"<td>{share(d['no_failure_within_horizon_share'])}</td><td>{d['late']}</td>"
            f"<td>{share(d['false_share'])}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def render_html(report: dict[str, Any], text_table: str, hourly: Sequence[int]) -> str:
    leads = [e["lead_seconds"] for e in report["episodes"] if e["lead_seconds"] is not None]
    counts, labels = lead_histogram(leads)
    hours = [f"h{i}" if i % 24 else f"day {i // 24 + 1}" for i in range(len(hourly))]
    history = report["history"]
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>posfleet backtest</title><style>body{font-family:sans-serif;margin:2em}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
        "padding:3px 6px;text-align:right}th:first-child{text-align:left}"
        "pre{font-size:12px;background:#f6f6f6;padding:1em}</style></head><body>"
        f"<h1>posfleet backtest</h1><p>History {escape(str(history['from']))} to "
        f"{escape(str(history['to']))}: {history['terminals']} terminals, "
        f"{history['lines']} lines ({history['skipped_lines']} skipped). Episodes from "
        f"{escape(report['episodes_from'])}.</p>"
        f"{_bars(counts, labels, 'Lead time of warned episodes (episodes per bin)', '#2a7')}"
        f"{_bars(hourly, hours, 'Ticket openings per hour', '#36c')}"
        "<h2>Per component</h2>" + _table(report["figures"]["components"]) +
        "<h2>Per rule</h2>" + _table(report["figures"]["rules"]) +
        f"<h2>Summary</h2><pre>{escape(text_table)}</pre></body></html>\n"
    )
