"""Files generated from the models and committed under ``docs/``: the public contracts.

``posfleet schema export`` rewrites them; ``tests/test_published.py`` fails when a model
changed and the committed copy did not.
"""

from __future__ import annotations

from pathlib import Path

from posfleet.config.models import PosfleetConfig
from posfleet.exporters.prometheus import docs as metrics_docs
from posfleet.telemetry import docs as telemetry_docs


def generated_files() -> dict[str, str]:
    """Path under ``docs/`` -> content of every generated file."""
    files = telemetry_docs.generated_files()
    files["schema/config.schema.json"] = telemetry_docs.json_schema(PosfleetConfig)
    files.update(metrics_docs.generated_files())
    return files


def export(docs_dir: Path) -> list[Path]:
    written = []
    for relative, content in generated_files().items():
        path = docs_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
