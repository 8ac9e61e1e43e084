"""The published contracts in docs/ are generated from the models and must not drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posfleet.published import generated_files
from posfleet.telemetry import StatusSnapshot

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("relative", sorted(generated_files()))
def test_committed_copy_matches_the_models(relative: str) -> None:
    committed = DOCS / relative
    assert committed.exists(), f"docs/{relative} missing: run `posfleet schema export docs`"
    assert committed.read_text(encoding="utf-8") == generated_files()[relative], (
        f"docs/{relative} is out of date: run `posfleet schema export docs` and review the "
        "change; a removed or narrowed field needs a new schema_version"
    )


def test_status_schema_documents_every_field() -> None:
    schema = json.loads((DOCS / "schema" / "status.v1.schema.json").read_text())
    assert set(schema["properties"]) == set(StatusSnapshot.model_fields)
    printer = schema["$defs"]["PrinterStatus"]["properties"]
    assert all(prop.get("description") for prop in printer.values())
