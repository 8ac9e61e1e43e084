"""The operations and security guides: their links resolve, and the figures the sizing is
built on are the ones the README's "Measured" table and docs/metrics.md publish today (when
a benchmark or the metric catalogue changes, this fails until the guide is updated)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDES = [
    ROOT / "docs" / "operations.md",
    ROOT / "docs" / "security.md",
    ROOT / "deploy" / "systemd" / "README.md",
    ROOT / "deploy" / "compose" / "README.md",
    ROOT / "deploy" / "kubernetes" / "README.md",
]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(guide: Path) -> None:
    targets = [t for t in LINK.findall(guide.read_text()) if not t.startswith("http")]
    missing = [t for t in targets if not (guide.parent / t).exists()]
    assert not missing, missing


def _table_rows(text: str, heading: str) -> list[list[str]]:
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not set(line) <= set("|- "):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_sizing_uses_the_published_benchmarks() -> None:
    measured = _table_rows((ROOT / "README.md").read_text(), "## Measured")
    figures = [row[1] for row in measured if row[0] != "what"]
    assert len(figures) >= 5
    guide = (ROOT / "docs" / "operations.md").read_text()
    missing = [figure for figure in figures if figure not in guide]
    assert not missing, f"docs/operations.md lacks the README's figures {missing}"


def test_sizing_uses_the_published_cardinality() -> None:
    cardinality = _table_rows((ROOT / "docs" / "metrics.md").read_text(), "### Cardinality")
    rows = [row for row in cardinality if row[1].isdigit()]
    assert rows
    guide = (ROOT / "docs" / "operations.md").read_text()
    for row in rows:
        per_terminal, fleet = row[1], row[2]
        assert re.search(rf"\| {per_terminal} \| {fleet} \|", guide), (per_terminal, fleet)
