"""Reading the simulator's ground truth: faults and the failed payments they caused."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any


def instant(text: str) -> float:
    """Unix time of an RFC 3339 stamp as the simulator writes them (``...Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class GroundTruth:
    """The lines of a ground-truth file."""

    lines: list[dict[str, Any]]

    @classmethod
    def read(cls, path: Path) -> GroundTruth:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        return cls([json.loads(line) for line in text.splitlines() if line.strip()])

    def faults(self, terminal: str, kind: str) -> list[dict[str, Any]]:
        """Faults of ``kind`` on ``terminal``, earliest first."""
        found = [
            line for line in self.lines
            if line["type"] == "fault" and line["terminal_id"] == terminal
            and line["kind"] == kind
        ]
        return sorted(found, key=lambda line: instant(line["start"]))

    def first_failure(self, terminal: str, fault_kind: str) -> dict[str, Any] | None:
        """The earliest failed transaction on ``terminal`` caused by a ``fault_kind`` fault."""
        failed = [
            line for line in self.lines
            if line["type"] == "failed_transaction" and line["terminal_id"] == terminal
            and line["fault_kind"] == fault_kind
        ]
        return min(failed, key=lambda line: instant(line["occurred_at"]), default=None)
