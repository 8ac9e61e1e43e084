"""Reading history: the telemetry JSON Lines trace, checked line by line.

Each line is ``{"type": "status" | "transaction", ...}`` followed by the fields of a
status snapshot or a transaction event (what ``posfleet simulate --record`` writes and what
a fleet can export). A line that cannot be used is reported with its number and skipped:
corrupt JSON, an unknown ``type``, unknown fields, fields the telemetry contract refuses,
and records that arrive out of order (older than the replay has already passed). Gaps (a
terminal silent for much longer than its snapshot interval) are reported but are not
errors: the replay shows that terminal as stale, as ingest would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from posfleet.telemetry import StatusSnapshot, TransactionEvent
from posfleet.telemetry.card_data import screened_context
from posfleet.validation import field_errors

MAX_LISTED: Final = 50
"""Problems listed one by one in the report (all are counted)."""
STATUS: Final = "status"
TRANSACTION: Final = "transaction"
_MODELS: Final[dict[str, type[BaseModel]]] = {
    STATUS: StatusSnapshot,
    TRANSACTION: TransactionEvent,
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One unusable (or suspicious) history line."""

    line: int
    kind: str
    """corrupt, unknown_type, unknown_field, invalid, unsorted or gap."""
    message: str


@dataclass(slots=True)
class HistoryStats:
    """What reading the history found; ``problems`` lists the first :data:`MAX_LISTED`."""

    lines: int = 0
    statuses: int = 0
    transactions: int = 0
    skipped: int = 0
    gaps: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    first: float | None = None
    last: float | None = None

    def add(self, line: int, kind: str, message: str, *, skipped: bool = True) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if skipped:
            self.skipped += 1
        else:
            self.gaps += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(Problem(line, kind, message))

    def as_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "statuses": self.statuses,
            "transactions": self.transactions,
            "skipped_lines": self.skipped,
            "skipped_share": self.skipped / self.lines if self.lines else 0.0,
            "gaps": self.gaps,
            "problem_counts": dict(sorted(self.counts.items())),
            "problems": [
                {"line": p.line, "kind": p.kind, "message": p.message} for p in self.problems
            ],
        }


@dataclass(frozen=True, slots=True)
class Record:
    """One usable history line: its time (seconds since the epoch) and its model."""

    at: float
    line: int
    status: StatusSnapshot | None = None
    transaction: TransactionEvent | None = None

    @property
    def terminal_id(self) -> str:
        item = self.status or self.transaction
        assert item is not None
        return item.terminal_id


def _field_names(model: type[BaseModel], into: set[str]) -> set[str]:
    for name, info in model.model_fields.items():
        into.add(name)
        inner = _component_model(info.annotation)
        if inner is not None:
            _field_names(inner, into)
    return into


def _component_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


_KNOWN_FIELDS: Final = {
    kind: frozenset(_field_names(model, set())) for kind, model in _MODELS.items()
}
_KEYS = re.compile(r'"([^"\\]+)"\s*:')
_TYPE_PREFIX = re.compile(r'\s*\{\s*"type"\s*:\s*"([a-z_]+)"\s*,')


def _nested_fields(model: type[BaseModel]) -> frozenset[str]:
    """Fields of ``model`` that may hold a model (a component)."""
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if _component_model(info.annotation) is not None
    )


_NESTED: Final[dict[type[BaseModel], frozenset[str]]] = {}


def _fields_given(item: BaseModel) -> int:
    """Keys the JSON gave, counted from the validated model (components included)."""
    given = item.__pydantic_fields_set__
    count = len(given)
    model = type(item)
    nested = _NESTED.get(model)
    if nested is None:
        nested = _NESTED[model] = _nested_fields(model)
    # Only fields that can hold a component are looked at: this runs for every line.
    for name in nested & given:
        value = getattr(item, name)
        if isinstance(value, BaseModel):
            count += _fields_given(value)
    return count


def _split_type(text: str) -> tuple[str | None, str]:
    """(type, JSON of the record without it); the fast path for lines written by posfleet."""
    match = _TYPE_PREFIX.match(text)
    if match is not None:
        return match.group(1), "{" + text[match.end() :]
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    kind = data.pop("type", None)
    return (kind if isinstance(kind, str) else None), json.dumps(data)


def parse_line(text: str, number: int, stats: HistoryStats) -> Record | None:
    """The record on one line, or None (reported in ``stats``) when it cannot be used.

    Lines are validated as ingest validates telemetry (``model_validate_json``, with the card
    data screen); unknown keys, which the contract ignores, are refused here so that a
    misspelt field cannot silently turn into a missing one.
    """
    try:
        kind, payload = _split_type(text)
    except ValueError as exc:
        stats.add(number, "corrupt", f"not a JSON object: {exc}")
        return None
    model = _MODELS.get(kind) if kind is not None else None
    if model is None:
        stats.add(number, "unknown_type", f"type {kind!r} is neither 'status' nor 'transaction'")
        return None
    assert kind is not None
    raw = payload.encode("utf-8", errors="replace")
    try:
        item = model.model_validate_json(raw, context=screened_context(raw))
    except ValidationError as exc:
        problems = field_errors(exc)
        if any(error.message.startswith(("Invalid JSON", "EOF")) for error in problems):
            stats.add(number, "corrupt", f"not valid JSON: {problems[0].message}")
        else:
            errors = "; ".join(str(error) for error in problems)
            stats.add(number, "invalid", f"{kind}: {errors}")
        return None
    # Every key of the line is a field the model took, unless the line has unknown keys:
    # counting is cheap; only lines that do not add up are searched for the culprits.
    if payload.count('":') != _fields_given(item):
        unknown = sorted(set(_KEYS.findall(payload)) - _KNOWN_FIELDS[kind])
        if unknown:
            stats.add(number, "unknown_field", f"{kind}: unknown field(s) {', '.join(unknown)}")
            return None
    if isinstance(item, StatusSnapshot):
        return Record(item.observed_at.timestamp(), number, status=item)
    assert isinstance(item, TransactionEvent)
    return Record(item.occurred_at.timestamp(), number, transaction=item)


def read_trace(lines: Iterable[str], stats: HistoryStats) -> Iterator[Record]:
    """Records of the usable lines, in file order (numbered from 1)."""
    for number, text in enumerate(lines, start=1):
        stats.lines += 1
        if not text.strip():
            stats.lines -= 1
            continue
        record = parse_line(text, number, stats)
        if record is not None:
            yield record


def open_trace(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        yield from handle
