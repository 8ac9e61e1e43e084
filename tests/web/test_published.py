"""Published artefacts of the web app and the status store stay in step with the code."""

from __future__ import annotations

from pathlib import Path

from posfleet.config import parse_config
from posfleet.web.openapi import openapi_document, openapi_text

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_openapi_document_matches_the_app() -> None:
    committed = (ROOT / "docs" / "schema" / "web.openapi.json").read_text(encoding="utf-8")

    assert committed == openapi_text(), (
        "docs/schema/web.openapi.json is stale: run `posfleet web openapi`"
    )


def test_the_openapi_document_describes_the_api_and_no_page() -> None:
    paths = set(openapi_document()["paths"])

    assert {"/api/v1/fleet", "/api/v1/stores/{store_id}", "/api/v1/terminals/{terminal_id}",
            "/api/v1/tickets/{ticket_id}/close", "/api/v1/cases/{case_id}"} <= paths
    assert not any(path.startswith(("/stores", "/login", "/fleet")) for path in paths)


def test_the_sample_configurations_are_valid() -> None:
    status = parse_config((ROOT / "exporters" / "status_store" / "sample.yml").read_text(),
                          "sample.yml")
    web = parse_config((ROOT / "posfleet" / "web" / "sample.yml").read_text(), "sample.yml")

    assert status.status_store is not None
    assert status.status_store.write_in == "ingest"
    assert web.web.tickets_url == "http://127.0.0.1:9466"
    assert web.web.grafana_url == "http://grafana.example.internal:3000"


def test_the_default_grafana_links_point_at_the_dashboards_in_the_repository() -> None:
    from posfleet.web.config import GrafanaDashboards

    defaults = GrafanaDashboards()
    for uid in (defaults.fleet, defaults.store, defaults.terminal):
        path = ROOT / "dashboards" / "json" / f"{uid}.json"
        assert path.is_file(), f"no dashboard {uid} in dashboards/json"
        assert f'"uid": "{uid}"' in path.read_text(encoding="utf-8")
