"""The JSON API under /api/v1: what every page shows, for merchants' and IT's own systems.

Every route takes its scope from the caller (``ApiScope``); ids outside it answer 404 exactly
like ids that do not exist, so a merchant cannot learn what another merchant has.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from posfleet.alerts.bridge.model import Ticket, TicketStatus
from posfleet.payments.model import Case, CaseStatus
from posfleet.web.data import STATES, FleetFilter, History, State, StoreRow, TerminalRow
from posfleet.web.deps import ApiAuth, ApiChange, ApiScope, Tr, Web, require_it
from posfleet.web.i18n import Translator
from posfleet.web.present import issue_text
from posfleet.web.scope import Scope
from posfleet.web.tickets import TicketConflict, TicketsUnavailable

PAGE_LIMIT = 100


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Problem(BaseModel):
    """An error: what went wrong, naming the field when one is at fault."""

    detail: str | list[str]


class Me(_Out):
    username: str
    role: str
    merchant: str | None


class IssueOut(_Out):
    code: str
    """Issue code: paper_low, network_unstable, printer_fault, ... (see docs/web.md)."""
    params: dict[str, Any]
    message: str
    """The sentence the status page shows, in the language of Accept-Language."""


class TerminalOut(_Out):
    terminal_id: str
    merchant_id: str
    store_id: str
    region: str
    model: str | None
    vendor: str | None
    serial: str | None
    state: State
    """online, degraded (an issue holds) or offline (no snapshot for web.stale_after_seconds)."""
    status: str
    """The most pressing issue's code, ``ready``, or ``offline``."""
    ready: bool
    """Nothing blocks card payments."""
    issues: list[IssueOut]
    components: dict[str, str]
    paper_seconds_to_empty: float | None
    network_quality: str
    observed_at: datetime
    received_at: datetime


class StoreOut(_Out):
    store_id: str
    name: str
    merchant_id: str
    region: str
    terminals: int
    ready: int
    attention: int
    offline: int


class StoreDetail(StoreOut):
    terminal_list: list[TerminalOut]


class FleetOut(_Out):
    counts: dict[str, int]
    """Terminals per state matching the filters (before paging)."""
    terminals: list[TerminalOut]
    limit: int
    offset: int


class HourOut(_Out):
    hour: datetime
    terminals: int
    """Terminals counted (the store's, or 1 for a terminal)."""
    online_minutes: int
    """Minutes online in the hour, summed over the terminals."""
    ready_minutes: int
    """Minutes with nothing blocking card payments, summed over the terminals."""
    availability: float
    """Share of the hour the terminals were online, 0 to 1."""
    attempts: int
    causes: dict[str, int]
    """Payment attempts per cause group (approved included)."""


class HistoryOut(_Out):
    hours: list[HourOut]
    causes: dict[str, int]
    """Attempts per cause group over the window."""
    attempts: int


class TicketListOut(_Out):
    tickets: list[Ticket]
    count: int


class CaseEvent(_Out):
    at: datetime
    kind: str
    state: str
    transaction_id: str | None
    host_response_code: str | None
    local_error: str | None
    detail: str


class CaseOut(_Out):
    case_id: str
    kind: str
    status: str
    terminal_id: str
    store_id: str
    merchant_id: str
    transaction_id: str
    occurred_at: datetime
    amount_minor: int
    currency: str
    outcome: str
    masked_pan: str | None
    stan: str | None
    rrn: str | None
    host_response_code: str | None
    local_error: str | None
    opened_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    settlement: str | None
    history: list[CaseEvent]


class CaseListOut(_Out):
    cases: list[CaseOut]
    count: int


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignBody(_Body):
    assignee: str = Field(min_length=1, max_length=200)


class CommentBody(_Body):
    text: str = Field(min_length=1, max_length=20_000)


class CloseBody(_Body):
    reason: str = Field(default="closed by hand", min_length=1, max_length=2_000)


def terminal_out(row: TerminalRow, t: Translator) -> TerminalOut:
    return TerminalOut(
        terminal_id=row.terminal_id,
        merchant_id=row.merchant_id,
        store_id=row.store_id,
        region=row.region,
        model=row.model,
        vendor=row.vendor,
        serial=row.serial,
        state=row.state,
        status=row.status,
        ready=row.ready,
        issues=[
            IssueOut(code=str(i["code"]), params=dict(i.get("params") or {}),
                     message=issue_text(t, i))
            for i in row.issues
        ],
        components=row.components,
        paper_seconds_to_empty=row.paper_seconds_to_empty,
        network_quality=row.network_quality,
        observed_at=row.observed_at,
        received_at=row.received_at,
    )


def store_out(row: StoreRow, name: str) -> StoreOut:
    return StoreOut(
        store_id=row.store_id, name=name, merchant_id=row.merchant_id, region=row.region,
        terminals=row.terminals, ready=row.ready, attention=row.attention, offline=row.offline,
    )


def history_out(history: History) -> HistoryOut:
    return HistoryOut(
        hours=[
            HourOut(hour=h.hour, terminals=h.terminals, online_minutes=h.online_minutes,
                    ready_minutes=h.ready_minutes, availability=round(h.availability, 4),
                    attempts=h.attempts, causes=h.causes)
            for h in history.hours
        ],
        causes=history.causes,
        attempts=history.attempts,
    )


def case_out(case: Case) -> CaseOut:
    sale = case.sale
    return CaseOut(
        case_id=case.case_id, kind=case.kind.value, status=case.status.value,
        terminal_id=sale.terminal_id, store_id=sale.store_id, merchant_id=sale.merchant_id,
        transaction_id=sale.transaction_id, occurred_at=sale.occurred_at,
        amount_minor=sale.amount_minor, currency=sale.currency, outcome=sale.outcome,
        masked_pan=sale.masked_pan, stan=sale.stan, rrn=sale.rrn,
        host_response_code=sale.host_response_code, local_error=sale.local_error,
        opened_at=case.opened_at, closed_at=case.closed_at,
        close_reason=case.close_reason.value if case.close_reason else None,
        settlement=case.settlement,
        history=[
            CaseEvent(at=e.at, kind=e.kind.value, state=e.state, transaction_id=e.transaction_id,
                      host_response_code=e.host_response_code, local_error=e.local_error,
                      detail=e.detail)
            for e in case.history
        ],
    )


def _unavailable(exc: TicketsUnavailable) -> HTTPException:
    return HTTPException(503, f"tickets unavailable: {exc}")


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}
router = APIRouter(
    prefix="/api/v1",
    responses={401: {"model": Problem}, 422: {"model": Problem}},
)


@router.get("/me", tags=["account"])
def me(auth: ApiAuth) -> Me:
    """Who the caller is and what it may see."""
    return Me(username=auth.user.username, role=auth.user.role, merchant=auth.user.merchant_id)


@router.get("/fleet", tags=["status"])
async def fleet(
    context: Web,
    scope: ApiScope,
    t: Tr,
    region: Annotated[str | None, Query(max_length=100)] = None,
    merchant: Annotated[str | None, Query(max_length=100)] = None,
    store: Annotated[str | None, Query(max_length=100)] = None,
    state: Annotated[State | None, Query(description=f"One of {', '.join(STATES)}.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = PAGE_LIMIT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FleetOut:
    """Terminals matching the filters (a merchant sees its own only), with counts per state."""
    wanted = FleetFilter(region or None, merchant or None, store or None, state)
    counts = await anyio.to_thread.run_sync(context.status.fleet_counts, scope, wanted)
    rows = await anyio.to_thread.run_sync(
        context.status.fleet_terminals, scope, wanted, limit, offset
    )
    return FleetOut(
        counts=counts, terminals=[terminal_out(r, t) for r in rows], limit=limit, offset=offset
    )


@router.get("/stores", tags=["status"])
async def stores(
    context: Web,
    scope: ApiScope,
    merchant: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[StoreOut]:
    """Stores with their terminals counted by readiness."""
    rows = await anyio.to_thread.run_sync(
        lambda: context.status.stores(scope, merchant or None, limit, offset)
    )
    return [store_out(r, context.names.store(r.store_id)) for r in rows]


@router.get("/stores/{store_id}", tags=["status"], responses=NOT_FOUND)
async def store(store_id: str, context: Web, scope: ApiScope, t: Tr) -> StoreDetail:
    """One store and the status of each of its terminals."""
    row = await anyio.to_thread.run_sync(context.status.store, scope, store_id)
    if row is None:
        raise HTTPException(404, f"no store {store_id}")
    terminals = await anyio.to_thread.run_sync(context.status.store_terminals, scope, store_id)
    return StoreDetail(
        **store_out(row, context.names.store(store_id)).model_dump(),
        terminal_list=[terminal_out(r, t) for r in terminals],
    )


@router.get("/stores/{store_id}/history", tags=["status"], responses=NOT_FOUND)
async def store_history(
    store_id: str,
    context: Web,
    scope: ApiScope,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> HistoryOut:
    """Hourly availability and payment attempts by cause group of a store's terminals."""
    if await anyio.to_thread.run_sync(context.status.store, scope, store_id) is None:
        raise HTTPException(404, f"no store {store_id}")
    history = await anyio.to_thread.run_sync(
        lambda: context.status.history(scope, store_id=store_id, hours=hours)
    )
    return history_out(history)


@router.get("/terminals/{terminal_id}", tags=["status"], responses=NOT_FOUND)
async def terminal(terminal_id: str, context: Web, scope: ApiScope, t: Tr) -> TerminalOut:
    """One terminal's status, issues and components."""
    row = await anyio.to_thread.run_sync(context.status.terminal, scope, terminal_id)
    if row is None:
        raise HTTPException(404, f"no terminal {terminal_id}")
    return terminal_out(row, t)


@router.get("/terminals/{terminal_id}/history", tags=["status"], responses=NOT_FOUND)
async def terminal_history(
    terminal_id: str,
    context: Web,
    scope: ApiScope,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> HistoryOut:
    """Hourly availability and payment attempts by cause group of one terminal."""
    if await anyio.to_thread.run_sync(context.status.terminal, scope, terminal_id) is None:
        raise HTTPException(404, f"no terminal {terminal_id}")
    history = await anyio.to_thread.run_sync(
        lambda: context.status.history(scope, terminal_id=terminal_id, hours=hours)
    )
    return history_out(history)


@router.get("/tickets", tags=["tickets"], responses={503: {"model": Problem}})
async def tickets(
    context: Web,
    scope: ApiScope,
    merchant: Annotated[str | None, Query(max_length=100)] = None,
    store: Annotated[str | None, Query(max_length=100)] = None,
    terminal: Annotated[str | None, Query(max_length=100)] = None,
    status: TicketStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TicketListOut:
    """Maintenance tickets from the ticket bridge, most recently opened first."""
    try:
        found = await context.tickets.find(
            scope, merchant=merchant, store=store, terminal=terminal, status=status,
            limit=limit, offset=offset,
        )
    except TicketsUnavailable as exc:
        context.metrics.ticket_failure()
        raise _unavailable(exc) from None
    return TicketListOut(tickets=found, count=len(found))


async def _ticket_or_404(context: Web, scope: ApiScope, ticket_id: int) -> Ticket:
    try:
        found = await context.tickets.get(scope, ticket_id)
    except TicketsUnavailable as exc:
        context.metrics.ticket_failure()
        raise _unavailable(exc) from None
    if found is None:
        raise HTTPException(404, f"no ticket {ticket_id}")
    return found


@router.get("/tickets/{ticket_id}", tags=["tickets"],
            responses={**NOT_FOUND, 503: {"model": Problem}})
async def ticket(ticket_id: int, context: Web, scope: ApiScope) -> Ticket:
    """One ticket with its history."""
    return await _ticket_or_404(context, scope, ticket_id)


CHANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    403: {"model": Problem, "description": "Not an IT user, or CSRF token missing"},
    409: {"model": Problem, "description": "The ticket is closed"},
    503: {"model": Problem},
}


async def change_ticket(
    context: Web, auth: ApiAuth, ticket_id: int, action: str, body: dict[str, Any]
) -> Ticket:
    """Apply a ticket action through the bridge for an IT caller (shared with the pages)."""
    require_it(auth)
    await _ticket_or_404(context, Scope.of(auth.user), ticket_id)
    try:
        return await context.tickets.change(
            ticket_id, action, {**body, "by": auth.user.username}
        )
    except TicketConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except LookupError:
        raise HTTPException(404, f"no ticket {ticket_id}") from None
    except TicketsUnavailable as exc:
        context.metrics.ticket_failure()
        raise _unavailable(exc) from None


@router.post("/tickets/{ticket_id}/acknowledge", tags=["tickets"], responses=CHANGE_RESPONSES)
async def acknowledge(ticket_id: int, context: Web, auth: ApiChange) -> Ticket:
    """Take the ticket (IT users)."""
    return await change_ticket(context, auth, ticket_id, "acknowledge", {})


@router.post("/tickets/{ticket_id}/assign", tags=["tickets"], responses=CHANGE_RESPONSES)
async def assign(ticket_id: int, body: AssignBody, context: Web, auth: ApiChange) -> Ticket:
    """Give the ticket to a person (IT users)."""
    return await change_ticket(context, auth, ticket_id, "assign", {"assignee": body.assignee})


@router.post("/tickets/{ticket_id}/comments", tags=["tickets"], responses=CHANGE_RESPONSES)
async def comment(ticket_id: int, body: CommentBody, context: Web, auth: ApiChange) -> Ticket:
    """Add a comment (IT users)."""
    return await change_ticket(context, auth, ticket_id, "comments", {"text": body.text})


@router.post("/tickets/{ticket_id}/close", tags=["tickets"], responses=CHANGE_RESPONSES)
async def close(
    ticket_id: int, context: Web, auth: ApiChange, body: CloseBody | None = None
) -> Ticket:
    """Close the ticket by hand (IT users)."""
    reason = (body or CloseBody()).reason
    return await change_ticket(context, auth, ticket_id, "close", {"reason": reason})


@router.get("/cases", tags=["cases"])
async def cases(
    context: Web,
    scope: ApiScope,
    merchant: Annotated[str | None, Query(max_length=100)] = None,
    store: Annotated[str | None, Query(max_length=100)] = None,
    terminal: Annotated[str | None, Query(max_length=100)] = None,
    status: CaseStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CaseListOut:
    """Suspected charged-but-failed sales with their evidence, most recent first."""
    reader = context.cases
    if reader is None:
        return CaseListOut(cases=[], count=0)
    found = await anyio.to_thread.run_sync(
        lambda: reader.find(scope, merchant=merchant, store=store, terminal=terminal,
                            status=status, limit=limit, offset=offset)
    )
    return CaseListOut(cases=[case_out(c) for c in found], count=len(found))


@router.get("/cases/{case_id}", tags=["cases"], responses=NOT_FOUND)
async def case(case_id: str, context: Web, scope: ApiScope) -> CaseOut:
    """One case with its evidence and history."""
    reader = context.cases
    found = None if reader is None else await anyio.to_thread.run_sync(reader.get, scope, case_id)
    if found is None:
        raise HTTPException(404, f"no case {case_id}")
    return case_out(found)
