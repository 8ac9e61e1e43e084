"""A fake Jira (REST API v2) for the bridge's tests: a RECORDED-CONTRACT FAKE, not Jira.

It answers the calls the bridge makes with the shapes Atlassian documents for Jira Server /
Data Center REST API v2 (create issue: 201 ``{"id", "key", "self"}``; search:
``{"issues": [{"key", ...}], "total"}``; comment: 201; transitions: ``{"transitions":
[{"id", "name", "to": {"name"}}]}``, 204 on POST), with a two-state workflow (To Do <->
Done). It does not check JQL beyond ``labels = "<tag>"`` nor permissions, screens or
required fields. Served through httpx.MockTransport, so no socket is opened; it can fail
the next create *after* storing the issue, as a timeout would look to the bridge.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

TRANSITIONS = {"To Do": {"id": "31", "name": "Done", "to": "Done"},
               "Done": {"id": "11", "name": "To Do", "to": "To Do"}}


@dataclass
class FakeIssue:
    key: str
    fields: dict[str, Any]
    status: str = "To Do"
    comments: list[str] = field(default_factory=list)


class FakeJira:
    """In-memory Jira project; ``transport`` plugs it into an httpx client."""

    def __init__(self) -> None:
        self.issues: dict[str, FakeIssue] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_next_create_after_storing = False
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append((request.method, path))
        if request.headers.get("Authorization") is None:
            return httpx.Response(401, json={"errorMessages": ["not logged in"]})
        if request.method == "POST" and path == "/rest/api/2/issue":
            return self._create(json.loads(request.content))
        if request.method == "GET" and path == "/rest/api/2/search":
            return self._search(request.url.params["jql"])
        match = re.fullmatch(r"/rest/api/2/issue/([A-Z]+-\d+)/(comment|transitions)", path)
        if match is None or match.group(1) not in self.issues:
            return httpx.Response(404, json={"errorMessages": ["Issue does not exist"]})
        issue = self.issues[match.group(1)]
        if match.group(2) == "comment":
            issue.comments.append(json.loads(request.content)["body"])
            return httpx.Response(201, json={"id": str(len(issue.comments))})
        step = TRANSITIONS[issue.status]
        if request.method == "GET":
            return httpx.Response(200, json={"transitions": [
                {"id": step["id"], "name": step["name"], "to": {"name": step["to"]}}
            ]})
        wanted = json.loads(request.content)["transition"]["id"]
        if wanted != step["id"]:
            return httpx.Response(400, json={"errorMessages": ["transition not valid"]})
        issue.status = step["to"]
        return httpx.Response(204)

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        fields = body["fields"]
        if any(" " in label for label in fields.get("labels", [])):
            return httpx.Response(400, json={"errors": {"labels": "contains spaces"}})
        key = f"{fields['project']['key']}-{len(self.issues) + 1}"
        self.issues[key] = FakeIssue(key=key, fields=fields)
        if self.fail_next_create_after_storing:
            self.fail_next_create_after_storing = False
            raise httpx.ReadTimeout("fake: the answer was lost")
        return httpx.Response(
            201, json={"id": str(len(self.issues)), "key": key, "self": f"/issue/{key}"}
        )

    def _search(self, jql: str) -> httpx.Response:
        match = re.search(r'labels = "([^"]+)"', jql)
        label = match.group(1) if match else None
        found = [
            {"key": issue.key, "fields": {"status": {"name": issue.status}}}
            for issue in self.issues.values()
            if label in issue.fields.get("labels", [])
        ]
        return httpx.Response(200, json={"issues": found, "total": len(found)})
