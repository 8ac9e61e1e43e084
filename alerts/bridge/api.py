"""HTTP interface of the bridge: Alertmanager's webhook, the ticket REST API and /metrics.

Every route but /healthz and /metrics needs a bearer token or basic auth. The webhook reads
the body itself (capped at ``max_body_bytes``) so that a bad payload gets a clear 4xx that
names the field, is counted, and stores nothing; a database that does not answer gives
503 with Retry-After, which Alertmanager retries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, NoReturn

import anyio
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from posfleet import __version__
from posfleet.alerts.bridge.auth import CHALLENGE, Authenticator, Principal
from posfleet.alerts.bridge.database import redacted
from posfleet.alerts.bridge.intake import facts_of
from posfleet.alerts.bridge.inventory import Inventory
from posfleet.alerts.bridge.metrics import BridgeMetrics
from posfleet.alerts.bridge.model import Ticket, TicketStatus
from posfleet.alerts.bridge.payload import Alert, WebhookMessage
from posfleet.alerts.bridge.store import (
    Applied,
    StoreUnavailable,
    TicketConflict,
    TicketFilter,
    TicketNotFound,
    TicketStore,
)
from posfleet.config.models import TicketsSettings
from posfleet.telemetry.card_data import find_card_data
from posfleet.validation import field_errors

WEBHOOK_PATH = "/api/v1/alertmanager"
RETRY_AFTER_SECONDS = "5"


@dataclass(frozen=True)
class BridgeContext:
    """What the HTTP routes work with."""

    settings: TicketsSettings
    store: TicketStore
    inventory: Inventory
    metrics: BridgeMetrics
    authenticator: Authenticator
    clock: Callable[[], datetime]
    wake: Callable[[], None] = lambda: None
    """Called after a webhook changed tickets, so the outbox worker starts at once."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppliedTicket(BaseModel):
    """What one fault of the notification did."""

    key: str
    ticket_id: int | None
    outcome: str


class WebhookResult(BaseModel):
    """Answer to Alertmanager."""

    tickets: list[AppliedTicket]


class TicketList(BaseModel):
    tickets: list[Ticket]
    count: int


class AcknowledgeRequest(_Body):
    by: str | None = Field(default=None, max_length=200)
    """Who acknowledges; default: the authenticated user."""


class AssignRequest(_Body):
    assignee: str = Field(min_length=1, max_length=200)
    """The person who gets the ticket."""
    by: str | None = Field(default=None, max_length=200)


class CommentRequest(_Body):
    text: str = Field(min_length=1, max_length=20_000)
    by: str | None = Field(default=None, max_length=200)


class CloseRequest(_Body):
    reason: str = Field(default="closed by hand", min_length=1, max_length=2_000)
    by: str | None = Field(default=None, max_length=200)


class Problem(BaseModel):
    """An error: what went wrong, naming the field when one is at fault."""

    detail: str | list[str]


def _card_data_in(data: object) -> str | None:
    """Card data in what people wrote into alerts (labels, annotations), never echoed.

    URLs, fingerprints and timestamps are left out: a 13-digit millisecond timestamp passes
    the Luhn check one time in ten.
    """
    if not isinstance(data, dict):
        return None
    written: dict[str, object] = {
        key: data.get(key) for key in ("groupLabels", "commonLabels", "commonAnnotations")
    }
    alerts = data.get("alerts")
    if isinstance(alerts, list):
        written["alerts"] = [
            {"labels": alert.get("labels"), "annotations": alert.get("annotations")}
            for alert in alerts
            if isinstance(alert, dict)
        ]
    return find_card_data(written)


def _fail(status: int, detail: str | list[str], **headers: str) -> NoReturn:
    raise HTTPException(status_code=status, detail=detail, headers=headers or None)


def _authenticated(request: Request) -> Principal:
    context: BridgeContext = request.app.state.bridge
    principal = context.authenticator.check(request.headers.get("authorization"))
    if principal is None:
        if request.url.path == WEBHOOK_PATH:
            context.metrics.webhooks.labels("unauthorized").inc()
        _fail(
            401,
            "authentication required (bearer token or basic auth)",
            **{"WWW-Authenticate": CHALLENGE},
        )
    return principal


Caller = Annotated[Principal, Depends(_authenticated)]
"""The authenticated caller; a route that takes it answers 401 without credentials."""


def create_app(context: BridgeContext, **fastapi_options: Any) -> FastAPI:
    """The bridge's FastAPI app; ``fastapi_options`` go to FastAPI (e.g. ``lifespan``)."""
    app = FastAPI(
        title="posfleet tickets",
        version=__version__,
        summary="Alertmanager webhooks in, one maintenance ticket per terminal and fault out.",
        **fastapi_options,
    )
    metrics = context.metrics
    settings = context.settings

    app.state.bridge = context

    @app.exception_handler(StoreUnavailable)
    async def _store_unavailable(_request: Request, exc: StoreUnavailable) -> JSONResponse:
        metrics.store_errors.labels("api").inc()
        return JSONResponse(
            {"detail": f"ticket store unavailable, retry later: {exc}"},
            status_code=503,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    @app.exception_handler(TicketNotFound)
    async def _not_found(_request: Request, exc: TicketNotFound) -> JSONResponse:
        return JSONResponse({"detail": f"no ticket {exc.args[0]}"}, status_code=404)

    @app.exception_handler(TicketConflict)
    async def _conflict(_request: Request, exc: TicketConflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    async def read_body(request: Request) -> bytes:
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            metrics.webhooks.labels("too_large").inc()
            _fail(413, f"body of {declared} bytes is larger than the limit of {limit} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                metrics.webhooks.labels("too_large").inc()
                _fail(413, f"body is larger than the limit of {limit} bytes")
        return bytes(body)

    def parse(body: bytes) -> WebhookMessage:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            metrics.webhooks.labels("invalid_json").inc()
            _fail(400, f"body is not JSON: {exc}")
        problem = _card_data_in(data)
        if problem:
            metrics.webhooks.labels("card_data").inc()
            _fail(422, problem)
        if isinstance(data, dict) and "version" in data and data["version"] != "4":
            metrics.webhooks.labels("unsupported_version").inc()
            _fail(422, f"version: {data['version']!r} is not supported; expected \"4\"")
        try:
            return WebhookMessage.model_validate(data)
        except ValidationError as exc:
            metrics.webhooks.labels("invalid_payload").inc()
            _fail(422, [str(error) for error in field_errors(exc)])

    def apply_all(message: WebhookMessage) -> list[Applied]:
        now = context.clock()
        results = []
        for facts in facts_of(message, context.inventory, settings.extra_key_labels):
            applied = context.store.apply(facts, now)
            metrics.alerts.labels(applied.outcome).inc()
            if applied.outcome == "opened":
                metrics.opened.inc()
            elif applied.outcome == "reopened":
                metrics.reopened.inc()
            results.append(applied)
        return results

    @app.post(
        WEBHOOK_PATH,
        tags=["alertmanager"],
        responses={
            400: {"model": Problem, "description": "Body is not JSON"},
            401: {"model": Problem},
            413: {"model": Problem, "description": "Body larger than max_body_bytes"},
            422: {"model": Problem, "description": "Not an Alertmanager v4 payload"},
            503: {"model": Problem, "description": "Ticket store unavailable: retry"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/WebhookMessage"}
                    }
                },
            }
        },
    )
    async def alertmanager_webhook(request: Request, _caller: Caller) -> WebhookResult:
        """Receive an Alertmanager notification (webhook_configs, payload version 4)."""
        message = parse(await read_body(request))
        try:
            applied = await anyio.to_thread.run_sync(apply_all, message)
        except StoreUnavailable as exc:
            metrics.webhooks.labels("store_unavailable").inc()
            metrics.store_errors.labels("webhook").inc()
            _fail(503, f"ticket store unavailable, retry later: {exc}",
                  **{"Retry-After": RETRY_AFTER_SECONDS})
        metrics.webhooks.labels("accepted").inc()
        if any(result.outcome != "repeat" for result in applied):
            context.wake()
        return WebhookResult(
            tickets=[
                AppliedTicket(key=r.key, ticket_id=r.ticket_id, outcome=r.outcome)
                for r in applied
            ]
        )

    @app.get("/api/v1/tickets", tags=["tickets"])
    def list_tickets(
        _caller: Caller,
        status: TicketStatus | None = None,
        team: str | None = None,
        store: str | None = None,
        merchant: str | None = None,
        terminal: str | None = None,
        component: str | None = None,
        severity: str | None = None,
        since: Annotated[
            datetime | None, Query(description="Tickets changed at or after this time.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> TicketList:
        """Tickets, most recently opened first, filtered by the given criteria."""
        found = context.store.list_tickets(
            TicketFilter(
                status=status,
                team=team,
                store=store,
                merchant=merchant,
                terminal=terminal,
                component=component,
                severity=severity,
                since=since,
                limit=limit,
                offset=offset,
            )
        )
        return TicketList(tickets=found, count=len(found))

    @app.get("/api/v1/tickets/{ticket_id}", tags=["tickets"],
             responses={404: {"model": Problem}})
    def get_ticket(ticket_id: int, _caller: Caller) -> Ticket:
        """One ticket with its history."""
        return context.store.get(ticket_id)

    changed: dict[int | str, dict[str, Any]] = {
        404: {"model": Problem},
        409: {"model": Problem, "description": "The ticket is closed"},
    }

    @app.post("/api/v1/tickets/{ticket_id}/acknowledge", tags=["tickets"], responses=changed)
    def acknowledge(
        ticket_id: int, caller: Caller, body: AcknowledgeRequest | None = None
    ) -> Ticket:
        """Someone takes the ticket."""
        actor = (body.by if body else None) or caller.name
        return context.store.acknowledge(ticket_id, actor, context.clock())

    @app.post("/api/v1/tickets/{ticket_id}/assign", tags=["tickets"], responses=changed)
    def assign(ticket_id: int, body: AssignRequest, caller: Caller) -> Ticket:
        """Give the ticket to a person."""
        return context.store.assign(
            ticket_id, body.assignee, body.by or caller.name, context.clock()
        )

    @app.post("/api/v1/tickets/{ticket_id}/comments", tags=["tickets"], responses=changed)
    def comment(ticket_id: int, body: CommentRequest, caller: Caller) -> Ticket:
        """Add a comment to the ticket's history (and to its issues elsewhere)."""
        return context.store.comment(ticket_id, body.text, body.by or caller.name, context.clock())

    @app.post("/api/v1/tickets/{ticket_id}/close", tags=["tickets"], responses=changed)
    def close(ticket_id: int, caller: Caller, body: CloseRequest | None = None) -> Ticket:
        """Close the ticket by hand (a re-fire within the reopen window reopens it)."""
        request = body or CloseRequest()
        closed = context.store.close(
            ticket_id, request.reason, request.by or caller.name, context.clock()
        )
        metrics.closed.labels("manual").inc()
        context.wake()
        return closed

    @app.get("/config", tags=["operations"])
    def effective_config(_caller: Caller) -> dict[str, Any]:
        """The effective ticket settings, secrets redacted."""
        shown: dict[str, Any] = settings.model_dump(mode="json")
        shown["database"] = redacted(settings.database)
        return shown

    @app.get("/healthz", tags=["operations"], responses={503: {"model": Problem}})
    def healthz() -> dict[str, str]:
        """200 while the ticket store answers."""
        context.store.ping()
        return {"status": "ok"}

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def prometheus_metrics() -> PlainTextResponse:
        """Self-metrics in the Prometheus text format."""
        return PlainTextResponse(
            generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    _publish_payload_schema(app)
    return app


def _publish_payload_schema(app: FastAPI) -> None:
    """Add the webhook payload's models to the OpenAPI components (the route reads the body
    itself, so FastAPI does not see them)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for model in (WebhookMessage, Alert):
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schema.pop("$defs", None)
            components[model.__name__] = schema
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
