"""Bad webhooks get a clear 4xx naming the field, store nothing and are counted; every
route but /healthz and /metrics needs credentials."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from posfleet.alerts.bridge.bridge import TicketBridge
from tests.alerts.bridge.support import AUTH, BASIC, alert, notification

WEBHOOK = "/api/v1/alertmanager"


def _without(payload: dict[str, Any], *path: str | int) -> dict[str, Any]:
    copy = json.loads(json.dumps(payload))
    target = copy
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    result: dict[str, Any] = copy
    return result


VALID = notification(alert())


@pytest.mark.parametrize(
    ("body", "status", "result", "message"),
    [
        pytest.param(b"{not json", 400, "invalid_json", "body is not JSON", id="not-json"),
        pytest.param(b"", 400, "invalid_json", "body is not JSON", id="empty"),
        pytest.param(
            json.dumps(_without(VALID, "alerts")).encode(),
            422,
            "invalid_payload",
            "alerts: Field required",
            id="missing-alerts",
        ),
        pytest.param(
            json.dumps(_without(VALID, "alerts", 0, "labels")).encode(),
            422,
            "invalid_payload",
            "alerts[0].labels: Field required",
            id="missing-labels",
        ),
        pytest.param(
            json.dumps({**VALID, "alerts": [{**alert(), "status": "burning"}]}).encode(),
            422,
            "invalid_payload",
            "alerts[0].status",
            id="bad-status",
        ),
        pytest.param(
            json.dumps({**VALID, "alerts": []}).encode(),
            422,
            "invalid_payload",
            "alerts: List should have at least 1 item",
            id="no-alerts",
        ),
        pytest.param(
            json.dumps({**VALID, "version": "3"}).encode(),
            422,
            "unsupported_version",
            "version: '3' is not supported",
            id="wrong-version",
        ),
        pytest.param(b"[1, 2]", 422, "invalid_payload", "Input should be", id="not-an-object"),
        pytest.param(
            json.dumps(
                {
                    **VALID,
                    "alerts": [
                        {**alert(), "annotations": {"description": "card 4761739001010010"}}
                    ],
                }
            ).encode(),
            422,
            "card_data",
            "contains a full card number",
            id="card-number",
        ),
        pytest.param(
            json.dumps({**VALID, "padding": "x" * 1_100_000}).encode(),
            413,
            "too_large",
            "larger than the limit of 1048576 bytes",
            id="huge",
        ),
    ],
)
def test_a_bad_payload_is_refused_with_its_reason_stores_nothing_and_is_counted(
    client: TestClient, bridge: TicketBridge, body: bytes, status: int, result: str, message: str
) -> None:
    response = client.post(
        WEBHOOK, content=body, headers={**AUTH, "Content-Type": "application/json"}
    )

    assert response.status_code == status
    assert message in json.dumps(response.json()["detail"])
    assert client.get("/api/v1/tickets", headers=AUTH).json()["count"] == 0
    assert (
        bridge.metrics.registry.get_sample_value(
            "posfleet_tickets_webhooks_received_total", {"result": result}
        )
        == 1
    )


def test_a_card_number_in_an_alert_is_never_echoed(client: TestClient) -> None:
    pan = "4761739001010010"
    body = {**VALID, "alerts": [{**alert(), "annotations": {"summary": f"PAN {pan}"}}]}
    response = client.post(WEBHOOK, json=body, headers=AUTH)
    assert response.status_code == 422
    assert pan not in response.text


def test_a_huge_body_without_content_length_is_refused_while_reading(
    client: TestClient,
) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b" " * 65_536

    response = client.post(WEBHOOK, content=chunks(), headers=AUTH)

    assert response.status_code == 413


ROUTES = [
    ("POST", WEBHOOK, VALID),
    ("GET", "/api/v1/tickets", None),
    ("GET", "/api/v1/tickets/1", None),
    ("POST", "/api/v1/tickets/1/acknowledge", {"by": "alice"}),
    ("POST", "/api/v1/tickets/1/assign", {"assignee": "bob"}),
    ("POST", "/api/v1/tickets/1/comments", {"text": "on my way"}),
    ("POST", "/api/v1/tickets/1/close", {"reason": "fixed"}),
    ("GET", "/config", None),
]


@pytest.mark.parametrize(("method", "path", "payload"), ROUTES)
def test_every_route_needs_credentials(
    client: TestClient, method: str, path: str, payload: dict[str, Any] | None
) -> None:
    client.post(WEBHOOK, json=VALID, headers=AUTH)  # ticket 1 exists

    anonymous = client.request(method, path, json=payload)
    wrong = client.request(method, path, json=payload, headers={"Authorization": "Bearer nope"})
    with_token = client.request(method, path, json=payload, headers=AUTH)

    assert anonymous.status_code == 401
    assert "Bearer" in anonymous.headers["WWW-Authenticate"]
    assert wrong.status_code == 401
    assert with_token.status_code == 200, with_token.text


def test_basic_auth_works_and_names_the_actor(client: TestClient) -> None:
    client.post(WEBHOOK, json=VALID, headers=BASIC)
    acked = client.post("/api/v1/tickets/1/acknowledge", headers=BASIC)

    assert acked.status_code == 200
    assert acked.json()["acknowledged_by"] == "am"


def test_health_and_metrics_need_no_credentials(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert "posfleet_tickets_webhooks_received_total" in client.get("/metrics").text


def test_unauthenticated_webhooks_are_counted(client: TestClient, bridge: TicketBridge) -> None:
    client.post(WEBHOOK, json=VALID)

    assert (
        bridge.metrics.registry.get_sample_value(
            "posfleet_tickets_webhooks_received_total", {"result": "unauthorized"}
        )
        == 1
    )
