"""Published artefacts of the bridge stay in step with the code: the OpenAPI document in
docs/schema/tickets.openapi.json and the sample configuration."""

from __future__ import annotations

import json
from pathlib import Path

from posfleet.alerts.bridge.openapi import openapi_document, openapi_text
from posfleet.config import parse_config

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_openapi_document_matches_the_app() -> None:
    committed = (ROOT / "docs" / "schema" / "tickets.openapi.json").read_text(encoding="utf-8")

    assert committed == openapi_text(), (
        "docs/schema/tickets.openapi.json is stale: run `posfleet tickets openapi`"
    )


def test_the_openapi_document_describes_the_webhook_payload_and_every_route() -> None:
    document = openapi_document()

    assert set(document["paths"]) == {
        "/api/v1/alertmanager",
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket_id}",
        "/api/v1/tickets/{ticket_id}/acknowledge",
        "/api/v1/tickets/{ticket_id}/assign",
        "/api/v1/tickets/{ticket_id}/comments",
        "/api/v1/tickets/{ticket_id}/close",
        "/config",
        "/healthz",
        "/metrics",
    }
    body = document["paths"]["/api/v1/alertmanager"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WebhookMessage"
    }
    alerts = document["components"]["schemas"]["WebhookMessage"]["properties"]["alerts"]
    assert alerts["items"] == {"$ref": "#/components/schemas/Alert"}
    assert json.dumps(document)  # serialisable as published


def test_the_sample_configuration_is_valid() -> None:
    text = (ROOT / "alerts" / "bridge" / "sample.yml").read_text(encoding="utf-8")

    tickets = parse_config(text, "sample.yml").tickets

    assert tickets.redmine is not None
    assert tickets.redmine.teams == ["technician"]
    assert tickets.jira is not None
    assert tickets.jira.project_key == "IT"
    assert tickets.webhook is not None
    assert tickets.close_grace_seconds == 300
