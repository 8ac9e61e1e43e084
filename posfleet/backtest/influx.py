"""Read a time range of history back from InfluxDB (1.x, InfluxQL on ``/query``) into the
telemetry JSON Lines trace the backtest reads.

The schema is ``docs/influxdb-schema.md`` (``exporters/influxdb/schema.py``): one
measurement per snapshot component, identity as tags, the observation time as the point's
timestamp; transactions in ``posfleet_transaction``. Points of one terminal at one instant
are put back together into one snapshot. What the schema does not store cannot come back
(``masked_pan``, ``schema_version``); neither is read by the backtest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import httpx

from posfleet.exporters.influxdb.schema import (
    COMPONENTS,
    TERMINAL,
    TRANSACTION_FIELDS,
    TRANSACTION_NAME,
    TRANSACTION_TAGS,
    Kind,
    Measurement,
)
from posfleet.telemetry import StatusSnapshot

CHUNK_SECONDS: Final = 3600
IDENTITY: Final = {"terminal": "terminal_id", "store": "store_id", "merchant": "merchant_id"}


class InfluxReadError(RuntimeError):
    """InfluxDB refused a query or could not be reached."""


@dataclass(frozen=True)
class InfluxSource:
    url: str
    database: str
    username: str | None = None
    password: str | None = None


def _date_fields() -> set[tuple[str, str]]:
    """(component, field) pairs whose telemetry type is a date rather than a date-time."""
    out = set()
    for measurement in COMPONENTS:
        model = StatusSnapshot.model_fields[measurement.component].annotation
        inner = next(
            (a for a in getattr(model, "__args__", (model,)) if hasattr(a, "model_fields")), None
        )
        if inner is None:
            continue
        for name, info in inner.model_fields.items():
            if date in getattr(info.annotation, "__args__", (info.annotation,)):
                out.add((measurement.component, name))
    return out


_DATES: Final = _date_fields()


def _value(kind: Kind, value: Any, component: str, name: str) -> Any:
    if value is None:
        return None
    if kind is Kind.TIME:
        moment = datetime.fromtimestamp(int(value), UTC)
        if (component, name) in _DATES:
            return moment.date().isoformat()
        return moment.isoformat().replace("+00:00", "Z")
    return value


def _iso_ns(ns: int) -> str:
    seconds, rest = divmod(int(ns), 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{moment}.{rest:09d}Z" if rest else f"{moment}Z"


class InfluxHistory:
    """Queries one database; :meth:`lines` yields trace lines in time order."""

    def __init__(self, source: InfluxSource, client: httpx.Client | None = None) -> None:
        self._source = source
        self._client = client or httpx.Client(base_url=source.url, timeout=120.0)

    def _query(self, text: str) -> list[dict[str, Any]]:
        params = {"db": self._source.database, "q": text, "epoch": "ns"}
        if self._source.username:
            params["u"] = self._source.username
            params["p"] = self._source.password or ""
        try:
            response = self._client.get("/query", params=params)
        except httpx.HTTPError as exc:
            raise InfluxReadError(f"{self._source.url}: {exc}") from None
        if response.status_code != 200:
            raise InfluxReadError(
                f"{self._source.url}: HTTP {response.status_code}: {response.text[:200]}"
            )
        body = response.json()
        out: list[dict[str, Any]] = []
        for result in body.get("results", []):
            if "error" in result:
                raise InfluxReadError(f"{self._source.database}: {result['error']}")
            for series in result.get("series", []):
                columns = series["columns"]
                tags = series.get("tags") or {}
                for row in series["values"]:
                    point = dict(zip(columns, row, strict=True))
                    point.update(tags)
                    out.append(point)
        return out

    def _select(self, measurement: str, start: int, end: int) -> list[dict[str, Any]]:
        return self._query(
            f'SELECT * FROM "{measurement}" WHERE time >= {start}s AND time < {end}s '
            "GROUP BY * ORDER BY time"
        )

    def _snapshots(self, start: int, end: int) -> list[tuple[int, str, str]]:
        snapshots: dict[tuple[int, str], dict[str, Any]] = {}
        measurements: list[Measurement] = [TERMINAL, *COMPONENTS]
        for measurement in measurements:
            for point in self._select(measurement.name, start, end):
                key = (int(point["time"]), point.get("terminal") or "")
                snapshot = snapshots.get(key)
                if snapshot is None:
                    snapshot = snapshots[key] = {
                        target: point.get(tag) for tag, target in IDENTITY.items()
                    }
                    if point.get("region"):
                        snapshot["region"] = point["region"]
                    snapshot["observed_at"] = _iso_ns(key[0])
                target = snapshot if not measurement.component else snapshot.setdefault(
                    measurement.component, {}
                )
                for name, kind in measurement.fields:
                    if name == "reported":
                        continue
                    value = _value(kind, point.get(name), measurement.component, name)
                    if value is not None:
                        target[name] = value
        return [
            (at, terminal, '{"type":"status",' + json.dumps(data, separators=(",", ":"))[1:])
            for (at, terminal), data in snapshots.items()
        ]

    def _transactions(self, start: int, end: int) -> list[tuple[int, str, str]]:
        out = []
        for point in self._select(TRANSACTION_NAME, start, end):
            data: dict[str, Any] = {}
            for tag, attribute in TRANSACTION_TAGS:
                if point.get(tag):
                    data[attribute] = point[tag]
            data["occurred_at"] = _iso_ns(int(point["time"]))
            for name, _kind in TRANSACTION_FIELDS:
                if point.get(name) is not None:
                    data[name] = point[name]
            line = '{"type":"transaction",' + json.dumps(data, separators=(",", ":"))[1:]
            out.append((int(point["time"]), data.get("terminal_id", ""), line))
        return out

    def lines(
        self, start: int, end: int, progress: Callable[[str], None] | None = None
    ) -> Iterator[str]:
        """Trace lines for [start, end) (Unix seconds), hour by hour, in time order."""
        at = start
        while at < end:
            upper = min(end, at + CHUNK_SECONDS)
            items = self._snapshots(at, upper) + self._transactions(at, upper)
            items.sort(key=lambda item: (item[0], item[1], item[2]))
            for _, _, line in items:
                yield line
            if progress is not None:
                progress(f"read {datetime.fromtimestamp(upper, UTC):%Y-%m-%d %H:%M} UTC")
            at = upper

    def export(
        self, start: int, end: int, out: Path, progress: Callable[[str], None] | None = None
    ) -> int:
        """Write the trace for [start, end) to ``out``; return the number of lines."""
        count = 0
        with out.open("w", encoding="utf-8") as handle:
            for line in self.lines(start, end, progress):
                handle.write(line + "\n")
                count += 1
        return count
