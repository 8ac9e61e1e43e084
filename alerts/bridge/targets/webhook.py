"""The generic webhook target: every ticket change POSTed as JSON.

Body: ``{"event": "create"|"comment"|"close"|"reopen", "tag": ..., "text": ..., "ticket":
{...}}`` (the ticket as the REST API shows it, without history). Every request carries an
``Idempotency-Key`` header that stays the same when the bridge retries that change: a
receiver that remembers the keys it has seen creates each ticket exactly once, even when
the bridge's first call timed out after the receiver had done its work. The receiver may
answer a create with ``{"id": "..."}``; the id (else the tag) is kept as the remote id.
"""

from __future__ import annotations

from typing import Any

import httpx

from posfleet.alerts.bridge.config import WebhookTargetSettings
from posfleet.alerts.bridge.model import RemoteLink, Ticket
from posfleet.alerts.bridge.targets.base import (
    USER_AGENT,
    CallRecorder,
    HttpCaller,
    ignore_call,
)

SYSTEM = "webhook"


class WebhookTarget:
    """POST ticket changes to one URL (see the module docstring for the contract)."""

    system = SYSTEM

    def __init__(
        self,
        settings: WebhookTargetSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        record: CallRecorder = ignore_call,
    ) -> None:
        headers = {"User-Agent": USER_AGENT}
        if settings.bearer_token is not None:
            headers["Authorization"] = f"Bearer {settings.bearer_token.get_secret_value()}"
        client = httpx.AsyncClient(
            headers=headers, timeout=settings.timeout_seconds, transport=transport
        )
        self._url = settings.url
        self._call = HttpCaller(SYSTEM, client, record)

    async def _post(self, event: str, ticket: Ticket, note: str, key: str) -> httpx.Response:
        payload: dict[str, Any] = {
            "event": event,
            "tag": ticket.tag,
            "text": note,
            "ticket": ticket.model_dump(mode="json", exclude={"history"}),
        }
        return await self._call("POST", self._url, json=payload, headers={"Idempotency-Key": key})

    async def find(self, ticket: Ticket) -> RemoteLink | None:
        # A plain webhook cannot be searched: the Idempotency-Key makes creates safe instead.
        return None

    async def create(self, ticket: Ticket, idempotency_key: str) -> RemoteLink:
        response = await self._post("create", ticket, "", idempotency_key)
        remote_id = ticket.tag
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict) and isinstance(answer.get("id"), str | int):
            remote_id = str(answer["id"])
        return RemoteLink(system=SYSTEM, remote_id=remote_id, url=None)

    async def comment(
        self, link: RemoteLink, ticket: Ticket, note: str, idempotency_key: str
    ) -> None:
        await self._post("comment", ticket, note, idempotency_key)

    async def close(
        self, link: RemoteLink, ticket: Ticket, note: str, idempotency_key: str
    ) -> None:
        await self._post("close", ticket, note, idempotency_key)

    async def reopen(
        self, link: RemoteLink, ticket: Ticket, note: str, idempotency_key: str
    ) -> None:
        await self._post("reopen", ticket, note, idempotency_key)

    async def aclose(self) -> None:
        await self._call.aclose()
