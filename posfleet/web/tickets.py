"""Tickets from the ticket bridge's REST API, always read and changed within a Scope.

The web app owns no ticket state: it lists, shows and changes tickets through the bridge
(``/api/v1/tickets``) with the bridge's bearer token. A bridge that does not answer makes
the pages say "tickets unavailable" instead of failing.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import httpx
from pydantic import ValidationError

from posfleet.alerts.bridge.model import Ticket, TicketStatus
from posfleet.web.scope import Scope

NOT_CLOSED: Final = (TicketStatus.OPEN, TicketStatus.ACKNOWLEDGED, TicketStatus.RESOLVED)


class TicketsUnavailable(Exception):
    """The bridge is not configured, not reachable, or answered with an error."""


class TicketConflict(Exception):
    """The bridge refused the change for the ticket's state (e.g. it is closed)."""


class TicketsClient:
    """Calls the bridge; ``transport`` lets tests route to an app in-process."""

    def __init__(
        self,
        base_url: str | None,
        token: str | None,
        *,
        timeout_seconds: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.configured = base_url is not None
        self._base_url = base_url or "http://tickets.invalid"
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout_seconds
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    @property
    def _client(self) -> httpx.AsyncClient:
        """The HTTP client, opened on first use (again after :meth:`aclose`, so an app that
        is served again after its lifespan ended keeps working)."""
        if self._http is None or self._http.is_closed:
            self._http = httpx.AsyncClient(
                base_url=self._base_url,
                headers=self._headers,
                timeout=self._timeout,
                transport=self._transport,
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if not self.configured:
            raise TicketsUnavailable("no ticket bridge configured (web.tickets_url)")
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TicketsUnavailable(f"ticket bridge not reachable: {exc}") from None
        if response.status_code >= 500 or response.status_code in (401, 403):
            raise TicketsUnavailable(f"ticket bridge answered {response.status_code}")
        return response

    @staticmethod
    def _tickets(response: httpx.Response) -> list[Ticket]:
        if response.status_code != 200:
            raise TicketsUnavailable(f"ticket bridge answered {response.status_code}")
        try:
            return [Ticket.model_validate(item) for item in response.json()["tickets"]]
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise TicketsUnavailable(f"ticket bridge sent an unexpected answer: {exc}") from None

    async def find(
        self,
        scope: Scope,
        *,
        merchant: str | None = None,
        store: str | None = None,
        terminal: str | None = None,
        status: TicketStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Ticket]:
        """Tickets, most recently opened first; a merchant only ever gets its own."""
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        wanted = scope.narrow(merchant)
        for name, value in (
            ("merchant", wanted), ("store", store), ("terminal", terminal),
            ("status", status.value if status else None),
        ):
            if value:
                params[name] = value
        tickets = self._tickets(await self._call("GET", "/api/v1/tickets", params=params))
        return [ticket for ticket in tickets if scope.allows(ticket.merchant)]

    async def not_closed(
        self,
        scope: Scope,
        *,
        merchant: str | None = None,
        store: str | None = None,
        terminal: str | None = None,
        limit: int = 50,
    ) -> list[Ticket]:
        """Open, acknowledged and resolved tickets (one call per status, in parallel)."""
        found = await asyncio.gather(
            *(
                self.find(scope, merchant=merchant, store=store, terminal=terminal,
                          status=status, limit=limit)
                for status in NOT_CLOSED
            )
        )
        merged = [ticket for group in found for ticket in group]
        merged.sort(key=lambda t: (t.opened_at, t.id), reverse=True)
        return merged[:limit]

    async def get(self, scope: Scope, ticket_id: int) -> Ticket | None:
        """One ticket with its history; None when missing or not the caller's."""
        response = await self._call("GET", f"/api/v1/tickets/{ticket_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise TicketsUnavailable(f"ticket bridge answered {response.status_code}")
        try:
            ticket = Ticket.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise TicketsUnavailable(f"ticket bridge sent an unexpected answer: {exc}") from None
        return ticket if scope.allows(ticket.merchant) else None

    async def change(self, ticket_id: int, action: str, body: dict[str, Any]) -> Ticket:
        """acknowledge, assign, comments or close; TicketConflict when the state forbids it."""
        response = await self._call("POST", f"/api/v1/tickets/{ticket_id}/{action}", json=body)
        if response.status_code == 409:
            raise TicketConflict(str(response.json().get("detail", "conflict")))
        if response.status_code == 404:
            raise LookupError(ticket_id)
        if response.status_code != 200:
            raise TicketsUnavailable(f"ticket bridge answered {response.status_code}")
        return Ticket.model_validate(response.json())
