"""Line protocol for posfleet's fixed schema, written by hand for speed.

influxdb-client's ``Point`` builds every point through a generic, per-field dispatch with
sorting and escaping of every key, which costs tens of microseconds per point; a snapshot
becomes up to eight points, and 20,000 terminals every 15 s plus replays after an outage
need far more than that. Our measurement and field names are constants (no escaping), the
field kinds are known in advance, and a terminal's tag set repeats on every snapshot, so it
is escaped once and cached.

Escaping follows the InfluxDB line protocol reference: commas, spaces and equals signs in
tag values get a backslash; double quotes and backslashes in string field values get a
backslash. Line breaks cannot be represented in either and become spaces. An empty tag value
is left out (line protocol has no empty tags). Floats that are not finite and integers
outside int64 have no representation either and are left out, like absent values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, Final

from posfleet.exporters.influxdb.schema import (
    CAUSE_TAG,
    COMPONENTS,
    TERMINAL,
    TRANSACTION_FIELDS,
    TRANSACTION_NAME,
    TRANSACTION_TAGS,
    Kind,
)
from posfleet.payments.classification import default_classifier
from posfleet.telemetry import StatusSnapshot, TransactionEvent

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_INT64_MAX: Final = 2**63 - 1
_TAG_CACHE_LIMIT: Final = 100_000
"""Distinct tag sets kept escaped; a fleet of 20,000 terminals fits five times over."""

_TAG_ESCAPES: Final = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", "\n": "\\ ", "\r": "\\ "})
_TAG_SPECIAL: Final = frozenset(",= \n\r")


def escape_tag(value: str) -> str:
    """A tag key or value with commas, spaces and equals signs escaped."""
    escaped = value if _TAG_SPECIAL.isdisjoint(value) else value.translate(_TAG_ESCAPES)
    # A trailing backslash would escape the separator after it.
    return escaped + "\\" if escaped.endswith("\\") else escaped


def quote_string(value: str) -> str:
    """A string field value: quoted, with backslashes and double quotes escaped."""
    if '"' in value or "\\" in value or "\n" in value or "\r" in value:
        value = (
            value.replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("\r\n", " ")
            .replace("\n", " ")
            .replace("\r", " ")
        )
    return f'"{value}"'


def nanoseconds(moment: datetime) -> int:
    """Exact nanoseconds since the epoch (a float timestamp would lose the last digits)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _unix_seconds(value: datetime | date) -> int:
    if isinstance(value, datetime):
        delta = value - _EPOCH
        return delta.days * 86_400 + delta.seconds
    return (value - _EPOCH.date()).days * 86_400


def _field_code(name: str, kind: Kind) -> list[str]:
    """Python statements appending ``name=<value>`` to ``parts`` when the value is set."""
    read = [f"    v = d[{name!r}]", "    if v is not None:"]
    if kind is Kind.BOOL:
        body = [f"        parts.append({name + '=true'!r} if v else {name + '=false'!r})"]
    elif kind is Kind.INT:
        body = [
            "        if -INT64_MAX - 1 <= v <= INT64_MAX:",
            f"            parts.append(f{name + '={v}i'!r})",
        ]
    elif kind is Kind.FLOAT:
        body = [
            "        v = float(v)",
            "        if isfinite(v):",
            f"            parts.append({name + '='!r} + repr(v))",
        ]
    elif kind is Kind.STRING:
        # StrEnum members format as their value, so enums need no special case.
        body = [f"        parts.append({name + '='!r} + quote_string(str(v)))"]
    else:
        body = [f"        parts.append(f{name + '={unix_seconds(v)}i'!r})"]
    return read + body


def _compile_field_set(fields: Iterable[tuple[str, Kind]]) -> Callable[[object], str]:
    """A function returning the field set of a model with these fields.

    Generated once per measurement because the schema is fixed: straight-line code per
    field, without a formatter call or a kind check per value, is what makes serialisation
    several times faster than a generic loop (see the module docstring).
    """
    lines = ["def field_set(model):", "    d = model.__dict__", "    parts = []"]
    for name, kind in fields:
        lines += _field_code(name, kind)
    lines.append("    return ','.join(parts)")
    namespace: dict[str, Any] = {
        "INT64_MAX": _INT64_MAX,
        "isfinite": math.isfinite,
        "quote_string": quote_string,
        "unix_seconds": _unix_seconds,
    }
    exec("\n".join(lines), namespace)  # only our own constant field names go in
    function: Callable[[object], str] = namespace["field_set"]
    return function


class LineProtocolSerializer:
    """Turns snapshots and transaction events into line protocol lines (no trailing newline).

    Keeps a cache of escaped tag sets, so one instance per output. ``classify`` gives a
    transaction's cause group (default: the generic ISO 8583 table).
    """

    def __init__(self, classify: Callable[[TransactionEvent], str] | None = None) -> None:
        self._classify = classify or default_classifier().classify
        self._tag_sets: dict[tuple[str, str, str, str | None], str] = {}
        # "reported" is a constant, not an attribute of the snapshot.
        self._terminal_fields = _compile_field_set(TERMINAL.fields[1:])
        self._components = tuple(
            (measurement.component, measurement.name, _compile_field_set(measurement.fields))
            for measurement in COMPONENTS
        )
        self._transaction_fields = _compile_field_set(TRANSACTION_FIELDS)

    def _identity(self, snapshot: StatusSnapshot) -> str:
        key = (snapshot.merchant_id, snapshot.store_id, snapshot.terminal_id, snapshot.region)
        tags = self._tag_sets.get(key)
        if tags is None:
            if len(self._tag_sets) >= _TAG_CACHE_LIMIT:
                self._tag_sets.clear()
            tags = self._tag_sets[key] = _tag_set(
                (
                    ("merchant", snapshot.merchant_id),
                    ("region", snapshot.region),
                    ("store", snapshot.store_id),
                    ("terminal", snapshot.terminal_id),
                )
            )
        return tags

    def snapshot_lines(self, snapshot: StatusSnapshot) -> list[str]:
        """One ``posfleet_terminal`` line plus one line per component the snapshot has."""
        tags = self._identity(snapshot)
        stamp = f" {nanoseconds(snapshot.observed_at)}"
        values = snapshot.__dict__
        terminal_fields = self._terminal_fields(snapshot)
        head = "reported=true," + terminal_fields if terminal_fields else "reported=true"
        lines = [f"{TERMINAL.name}{tags} {head}{stamp}"]
        for attribute, name, field_set in self._components:
            component = values[attribute]
            if component is None:
                continue
            fields = field_set(component)
            if fields:
                lines.append(f"{name}{tags} {fields}{stamp}")
        return lines

    def transaction_line(self, event: TransactionEvent) -> str:
        """The ``posfleet_transaction`` line of one payment attempt."""
        tags = f",{CAUSE_TAG}={self._classify(event)}" + _tag_set(
            (tag, _plain(getattr(event, attribute))) for tag, attribute in TRANSACTION_TAGS
        )
        fields = self._transaction_fields(event)
        return f"{TRANSACTION_NAME}{tags} {fields} {nanoseconds(event.occurred_at)}"


def _plain(value: object) -> str | None:
    if value is None:
        return None
    return str(value.value) if isinstance(value, Enum) else str(value)


def _tag_set(pairs: Iterable[tuple[str, str | None]]) -> str:
    """ ",key=value,..." for the pairs with a non-empty value, in the given order."""
    return "".join(f",{key}={escape_tag(value)}" for key, value in pairs if value)
