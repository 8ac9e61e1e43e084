"""Generate the dashboards' JSON into ``dashboards/json/<uid>.json`` (or check it is current)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from posfleet.dashboards import fleet, posfleet_self, store, terminal, transactions

JSON_DIR = Path(__file__).resolve().parent / "json"
"""Where the generated files live (mounted into Grafana at
/var/lib/grafana/dashboards/posfleet by the provisioning provider)."""

BUILDERS: tuple[Callable[[], db.Dashboard], ...] = (
    fleet.build,
    store.build,
    terminal.build,
    transactions.build,
    posfleet_self.build,
)


def dashboards() -> list[dict[str, Any]]:
    """Every dashboard as the JSON model Grafana stores (plain dicts)."""
    models = []
    for build in BUILDERS:
        text = json.dumps(build().build(), cls=JSONEncoder, sort_keys=True)
        models.append(json.loads(text))
    return models


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def expected_files() -> dict[str, str]:
    """File name -> content of every generated file."""
    return {f"{model['uid']}.json": render(model) for model in dashboards()}


def write(directory: Path = JSON_DIR) -> list[Path]:
    """Write every dashboard; remove stale ``posfleet-*.json`` files. Returns what changed."""
    directory.mkdir(parents=True, exist_ok=True)
    files = expected_files()
    changed = []
    for name, content in files.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            changed.append(path)
    for path in directory.glob("*.json"):
        if path.name not in files:
            path.unlink()
            changed.append(path)
    return changed


def drift(directory: Path = JSON_DIR) -> list[str]:
    """Problems that make the files in ``directory`` differ from the code's dashboards."""
    files = expected_files()
    problems = []
    for name, content in files.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != content:
            problems.append(f"{path}: differs from the dashboard code")
    for path in sorted(directory.glob("*.json")):
        if path.name not in files:
            problems.append(f"{path}: no dashboard code makes this file")
    return problems
