"""What every ticketing system client offers, and how its calls fail."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from posfleet.alerts.bridge.model import RemoteLink, Ticket

CallRecorder = Callable[[str, str], None]
"""Called with (system, result) after every outbound HTTP call, for the metrics."""

USER_AGENT = "posfleet-tickets"


def ignore_call(_system: str, _result: str) -> None:
    """The default CallRecorder: counts nothing."""


class TargetError(Exception):
    """A call to a ticketing system failed; ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class TicketTarget(Protocol):
    """A ticketing system: find, create and change the issue of a posfleet ticket.

    ``idempotency_key`` is the same on every retry of one change; systems that honour it
    (the generic webhook) drop repeats, the others are searched before a create.
    """

    system: str

    async def find(self, ticket: Ticket) -> RemoteLink | None:
        """The issue that carries ``ticket.tag``, if the system can search and has one."""
        ...

    async def create(self, ticket: Ticket, idempotency_key: str) -> RemoteLink: ...

    async def comment(
        self, link: RemoteLink, ticket: Ticket, note: str, idempotency_key: str
    ) -> None: ...

    async def close(
        self, link: RemoteLink, ticket: Ticket, note: str, idempotency_key: str
    ) -> None: ...

    async def reopen(
        self, link: RemoteLink, ticket: Ticket, note: str, idempotency_key: str
    ) -> None: ...

    async def aclose(self) -> None:
        """Release the HTTP client."""
        ...


# Statuses that no retry fixes: the request itself is wrong (or the issue is gone).
_PERMANENT_STATUSES = frozenset({400, 404, 405, 409, 410, 413, 422})


class HttpCaller:
    """One system's HTTP client: maps transport errors and error statuses to TargetError
    and reports every call's result (ok, http_<status>, timeout, error)."""

    def __init__(
        self,
        system: str,
        client: httpx.AsyncClient,
        record: CallRecorder = ignore_call,
    ) -> None:
        self.system = system
        self.client = client
        self._record = record

    async def __call__(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = await self.client.request(
                method, url, json=json, params=params, headers=headers
            )
        except httpx.TimeoutException as exc:
            self._record(self.system, "timeout")
            raise TargetError(f"{self.system}: {method} {url} timed out ({exc!r})") from exc
        except httpx.HTTPError as exc:
            self._record(self.system, "error")
            raise TargetError(f"{self.system}: {method} {url} failed: {exc}") from exc
        if response.is_success:
            self._record(self.system, "ok")
            return response
        self._record(self.system, f"http_{response.status_code}")
        raise TargetError(
            f"{self.system}: {method} {url} answered HTTP {response.status_code}: "
            f"{response.text[:300]}",
            permanent=response.status_code in _PERMANENT_STATUSES,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


def json_object(response: httpx.Response, system: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise TargetError(f"{system}: answer is not JSON: {response.text[:200]}") from exc
    if not isinstance(body, dict):
        raise TargetError(f"{system}: answer is not a JSON object: {response.text[:200]}")
    return body
