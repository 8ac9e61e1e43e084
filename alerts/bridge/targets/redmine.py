"""Redmine through its REST API (``/issues.json``), tested against Debian's Redmine 5.0.

* create: ``POST /issues.json`` with subject ``[<tag>] ...``, description, priority and, when
  configured, the tag in a string custom field;
* find (before every create, so a create whose answer was lost is not repeated):
  ``GET /issues.json?status_id=*&cf_<id>=<tag>`` or ``...&subject=~[<tag>]``, then an exact
  check of the tag on the answers (``~`` means "contains");
* comment / close / reopen: ``PUT /issues/<id>.json`` with ``notes`` (and ``status_id``).

Redmine has no idempotency keys: a note whose answer timed out may be written twice.
"""

from __future__ import annotations

from typing import Any

import httpx

from posfleet.alerts.bridge.config import RedmineTargetSettings
from posfleet.alerts.bridge.model import RemoteLink, Ticket
from posfleet.alerts.bridge.targets import render
from posfleet.alerts.bridge.targets.base import (
    USER_AGENT,
    CallRecorder,
    HttpCaller,
    TargetError,
    ignore_call,
    json_object,
)

SYSTEM = "redmine"


class RedmineTarget:
    """Issues in one Redmine project (see the module docstring for the calls)."""

    system = SYSTEM

    def __init__(
        self,
        settings: RedmineTargetSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        record: CallRecorder = ignore_call,
    ) -> None:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if settings.api_key is not None:
            headers["X-Redmine-API-Key"] = settings.api_key.get_secret_value()
        client = httpx.AsyncClient(
            base_url=settings.url,
            headers=headers,
            timeout=settings.timeout_seconds,
            transport=transport,
        )
        self._settings = settings
        self._call = HttpCaller(SYSTEM, client, record)

    def _link(self, issue_id: int | str) -> RemoteLink:
        return RemoteLink(
            system=SYSTEM, remote_id=str(issue_id), url=f"{self._settings.url}/issues/{issue_id}"
        )

    def _carries_tag(self, issue: dict[str, Any], tag: str) -> bool:
        field_id = self._settings.key_custom_field_id
        if field_id is not None:
            return any(
                field.get("id") == field_id and field.get("value") == tag
                for field in issue.get("custom_fields", [])
            )
        return f"[{tag}]" in str(issue.get("subject", ""))

    async def find(self, ticket: Ticket) -> RemoteLink | None:
        params = {"project_id": self._settings.project, "status_id": "*", "limit": "25"}
        if self._settings.key_custom_field_id is not None:
            params[f"cf_{self._settings.key_custom_field_id}"] = ticket.tag
        else:
            params["subject"] = f"~[{ticket.tag}]"
        answer = json_object(await self._call("GET", "/issues.json", params=params), SYSTEM)
        for issue in answer.get("issues", []):
            if isinstance(issue, dict) and self._carries_tag(issue, ticket.tag):
                return self._link(issue["id"])
        return None

    async def create(self, ticket: Ticket, idempotency_key: str) -> RemoteLink:
        issue: dict[str, Any] = {
            "project_id": self._settings.project,
            "subject": render.subject(ticket),
            "description": render.body(ticket),
        }
        priority_ids: dict[str, int] = {str(k): v for k, v in self._settings.priority_ids.items()}
        priority = priority_ids.get(ticket.severity or "")
        if priority is not None:
            issue["priority_id"] = priority
        if self._settings.tracker_id is not None:
            issue["tracker_id"] = self._settings.tracker_id
        if self._settings.key_custom_field_id is not None:
            issue["custom_fields"] = [
                {"id": self._settings.key_custom_field_id, "value": ticket.tag}
            ]
        answer = json_object(
            await self._call("POST", "/issues.json", json={"issue": issue}), SYSTEM
        )
        created = answer.get("issue")
        if not isinstance(created, dict) or "id" not in created:
            raise TargetError(f"{SYSTEM}: create answered without an issue id: {answer}")
        return self._link(created["id"])

    async def _update(self, link: RemoteLink, fields: dict[str, Any]) -> None:
        await self._call("PUT", f"/issues/{link.remote_id}.json", json={"issue": fields})

    async def comment(
        self, link: RemoteLink, ticket: Ticket, note: str, idempotency_key: str
    ) -> None:
        await self._update(link, {"notes": note})

    async def close(
        self, link: RemoteLink, ticket: Ticket, note: str, idempotency_key: str
    ) -> None:
        await self._update(link, {"notes": note, "status_id": self._settings.closed_status_id})

    async def reopen(
        self, link: RemoteLink, ticket: Ticket, note: str, idempotency_key: str
    ) -> None:
        await self._update(link, {"notes": note, "status_id": self._settings.reopened_status_id})

    async def aclose(self) -> None:
        await self._call.aclose()
