"""Walks the generated dashboards: every query (panel targets, variables, annotations) with
where it comes from, and the metric names a PromQL expression uses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from posfleet.dashboards.build import dashboards


@dataclass(frozen=True)
class Query:
    dashboard: str
    where: str
    """"panel <id> <title> <refId>", "variable <name>" or "annotation <name>"."""
    datasource: dict[str, Any]
    text: str
    kind: str
    """"range", "instant", "variable", "annotation" (PromQL) or "influxql"."""

    @property
    def id(self) -> str:
        return f"{self.dashboard}: {self.where}"


def panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries() -> list[Query]:
    found = []
    for model in dashboards():
        uid = model["uid"]
        for panel in panels(model):
            for target in panel.get("targets", []):
                where = f"panel {panel['id']} {panel['title']!r} {target['refId']}"
                source = target.get("datasource") or panel["datasource"]
                if "query" in target:
                    found.append(Query(uid, where, source, target["query"], "influxql"))
                else:
                    kind = "instant" if target.get("instant") else "range"
                    found.append(Query(uid, where, source, target["expr"], kind))
        for variable in model.get("templating", {}).get("list", []):
            found.append(
                Query(uid, f"variable {variable['name']}", variable["datasource"],
                      variable["query"], "variable")
            )
        for annotation in model.get("annotations", {}).get("list", []):
            found.append(
                Query(uid, f"annotation {annotation['name']}", annotation["datasource"],
                      annotation["expr"], "annotation")
            )
    return found


_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
             "group_right", "bool", "offset", "inf", "nan",
             # aggregation operators, which may be followed by "by (...)" instead of "("
             "sum", "count", "min", "max", "avg", "group", "stddev", "stdvar", "topk",
             "bottomk", "quantile", "count_values"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (Grafana variables allowed in label values and
    range selectors)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", text
    )  # label lists
    text = re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", text.strip())  # variable queries
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name in _KEYWORDS:
            continue
        names.add(name)
    return names
