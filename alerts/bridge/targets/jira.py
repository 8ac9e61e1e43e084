"""Jira through REST API v2 (Server/Data Center; Cloud still serves v2).

* create: ``POST /rest/api/2/issue`` with the tag and ``posfleet`` as labels (a label has
  no spaces and at most 255 characters: the tag fits, unlike label sets built from alert
  labels);
* find (before a create only; the issue link is kept in the bridge's store, so Jira's
  search index lagging behind a fresh create never causes a duplicate on updates):
  ``GET /rest/api/2/search?jql=labels = "<tag>"``;
* comment: ``POST /rest/api/2/issue/<key>/comment``;
* close / reopen: the transition named in the settings (``GET`` then ``POST
  /rest/api/2/issue/<key>/transitions``), then a comment. When the workflow offers no such
  transition (the issue is already there, or someone moved it by hand) the note says so
  instead of failing forever.
"""

from __future__ import annotations

from typing import Any

import httpx

from posfleet.alerts.bridge.config import JiraTargetSettings
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

SYSTEM = "jira"
API = "/rest/api/2"


class JiraTarget:
    """Issues in one Jira project (see the module docstring for the calls)."""

    system = SYSTEM

    def __init__(
        self,
        settings: JiraTargetSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        record: CallRecorder = ignore_call,
    ) -> None:
        auth: httpx.Auth | None = None
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if settings.api_token is not None:
            token = settings.api_token.get_secret_value()
            if settings.username:
                auth = httpx.BasicAuth(settings.username, token)
            else:
                headers["Authorization"] = f"Bearer {token}"
        client = httpx.AsyncClient(
            base_url=settings.url,
            headers=headers,
            auth=auth,
            timeout=settings.timeout_seconds,
            transport=transport,
        )
        self._settings = settings
        self._call = HttpCaller(SYSTEM, client, record)

    def _link(self, issue_key: str) -> RemoteLink:
        return RemoteLink(
            system=SYSTEM, remote_id=issue_key, url=f"{self._settings.url}/browse/{issue_key}"
        )

    async def find(self, ticket: Ticket) -> RemoteLink | None:
        jql = f'project = "{self._settings.project_key}" AND labels = "{ticket.tag}"'
        response = await self._call(
            "GET", f"{API}/search", params={"jql": jql, "fields": "status", "maxResults": "5"}
        )
        issues = json_object(response, SYSTEM).get("issues", [])
        if issues and isinstance(issues[0], dict) and "key" in issues[0]:
            return self._link(str(issues[0]["key"]))
        return None

    async def create(self, ticket: Ticket, idempotency_key: str) -> RemoteLink:
        fields: dict[str, Any] = {
            "project": {"key": self._settings.project_key},
            "issuetype": {"name": self._settings.issue_type},
            "summary": render.subject(ticket),
            "description": render.body(ticket),
            "labels": [ticket.tag, "posfleet"],
        }
        priorities: dict[str, str] = {str(k): v for k, v in self._settings.priorities.items()}
        priority = priorities.get(ticket.severity or "")
        if priority is not None:
            fields["priority"] = {"name": priority}
        answer = json_object(
            await self._call("POST", f"{API}/issue", json={"fields": fields}), SYSTEM
        )
        if "key" not in answer:
            raise TargetError(f"{SYSTEM}: create answered without an issue key: {answer}")
        return self._link(str(answer["key"]))

    async def _note(self, link: RemoteLink, note: str) -> None:
        await self._call("POST", f"{API}/issue/{link.remote_id}/comment", json={"body": note})

    async def comment(
        self, link: RemoteLink, ticket: Ticket, note: str, idempotency_key: str
    ) -> None:
        await self._note(link, note)

    async def _transition(self, link: RemoteLink, name: str, note: str) -> None:
        path = f"{API}/issue/{link.remote_id}/transitions"
        answer = json_object(await self._call("GET", path), SYSTEM)
        wanted = name.casefold()
        for transition in answer.get("transitions", []):
            names = {str(transition.get("name", "")).casefold()}
            names.add(str(transition.get("to", {}).get("name", "")).casefold())
            if wanted in names:
                await self._call("POST", path, json={"transition": {"id": transition["id"]}})
                await self._note(link, note)
                return
        await self._note(
            link,
            f"{note}\n(posfleet could not move the issue: no transition '{name}' is "
            "available from its current status.)",
        )

    async def close(
        self, link: RemoteLink, ticket: Ticket, note: str, idempotency_key: str
    ) -> None:
        await self._transition(link, self._settings.close_transition, note)

    async def reopen(
        self, link: RemoteLink, ticket: Ticket, note: str, idempotency_key: str
    ) -> None:
        await self._transition(link, self._settings.reopen_transition, note)

    async def aclose(self) -> None:
        await self._call.aclose()
