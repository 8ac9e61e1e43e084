"""The server-rendered pages: sign-in, merchant status pages, IT's fleet view and ticket
queue, the account page. Every page reads through the caller's scope (``PageScope``)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from datetime import timedelta
from typing import Annotated, Any, Final
from urllib.parse import quote, urlencode

import anyio
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from posfleet.alerts.bridge.model import Ticket, TicketStatus
from posfleet.payments.model import CaseStatus
from posfleet.web.accounts import AccountError
from posfleet.web.api import change_ticket
from posfleet.web.data import FleetFilter, State, TerminalRow
from posfleet.web.deps import Auth, PageAuth, PageScope, Tr, Web, current_auth
from posfleet.web.i18n import LANGUAGE_COOKIE, LANGUAGES, Translator
from posfleet.web.present import CAUSES_SHOWN, history_charts, status_lines, ticket_line
from posfleet.web.render import render
from posfleet.web.scope import Scope
from posfleet.web.security import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    same_token,
)
from posfleet.web.tickets import TicketsUnavailable

FLEET_PAGE: Final = 100
STORES_PAGE: Final = 100
TICKETS_PAGE: Final = 50
MAX_FORM_FIELD: Final = 20_000

router = APIRouter(include_in_schema=False)


class BadForm(Exception):
    """A form field is missing or wrong; the message names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _safe_next(target: str | None, default: str = "/") -> str:
    """Only paths on this site (never //host or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)


async def _form(request: Request) -> FormData:
    try:
        return await request.form(max_files=0, max_fields=20, max_part_size=MAX_FORM_FIELD)
    except Exception as exc:
        raise BadForm("form", f"cannot be read: {exc}") from None


def _field(form: FormData, name: str, *, max_length: int = 200, required: bool = True) -> str:
    value = form.get(name)
    if value is None or not isinstance(value, str) or not value.strip():
        if required:
            raise BadForm(name, "required")
        return ""
    if len(value) > max_length:
        raise BadForm(name, f"at most {max_length} characters")
    return value.strip()


def _check_csrf(form: FormData, auth: Auth) -> None:
    given = form.get(CSRF_FIELD)
    if not same_token(given if isinstance(given, str) else None, auth.csrf):
        raise HTTPException(403, f"{CSRF_FIELD}: missing or wrong form token; reload the page")


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    context = request.app.state.web
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax",
        secure=context.settings.cookie_secure, path="/",
    )


async def _tickets(
    request: Request, call: Awaitable[list[Ticket]]
) -> tuple[list[Ticket], bool]:
    """The tickets, or ([], False) when the bridge is unavailable (the page says so)."""
    try:
        return await call, True
    except TicketsUnavailable:
        request.app.state.web.metrics.ticket_failure()
        return [], False


# --- sign-in ---------------------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    auth = await current_auth(request)
    if auth is None or auth.via != "session":
        return _redirect("/login")
    return _redirect("/fleet" if auth.user.is_it else "/stores")


@router.get("/login")
async def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", None, login_csrf=token, next=_safe_next(next),
                      error=None)
    _cookie(response, request, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.post("/login")
async def login(request: Request, context: Web, t: Tr) -> Response:
    form = await _form(request)
    address = request.client.host if request.client else "unknown"
    next_path = _safe_next(_field(form, "next", max_length=500, required=False) or "/")
    token = request.cookies.get(LOGIN_CSRF_COOKIE)
    given = form.get(CSRF_FIELD)

    def again(error: str, status: int) -> Response:
        fresh = secrets.token_urlsafe(32)
        response = render(request, "login.html", None, status_code=status, login_csrf=fresh,
                          next=next_path, error=error)
        _cookie(response, request, LOGIN_CSRF_COOKIE, fresh, 3600)
        return response

    if not same_token(given if isinstance(given, str) else None, token):
        context.metrics.count(context.metrics.login_failures, "bad_csrf")
        return again(t("login.error_csrf"), 403)
    try:
        username = _field(form, "username", max_length=100)
        password = _field(form, "password", max_length=1000)
    except BadForm as exc:
        context.metrics.count(context.metrics.login_failures, "invalid_input")
        return again(t("login.error_missing", field=t(f"login.{exc.field}")), 400)
    blocked = context.limiter.blocked_by(username, address)
    if blocked is not None:
        context.metrics.count(context.metrics.rate_limited, blocked)
        return again(t("login.error_rate_limited"), 429)
    user = await anyio.to_thread.run_sync(context.accounts.authenticate, username, password)
    if user is None:
        context.limiter.failed(username, address)
        context.metrics.count(context.metrics.login_failures, "bad_credentials")
        return again(t("login.error_credentials"), 401)
    context.limiter.succeeded(username)
    max_age = timedelta(seconds=context.settings.session_max_age_seconds)
    session_id, _csrf = await anyio.to_thread.run_sync(
        context.accounts.create_session, user, max_age
    )
    default = "/fleet" if user.is_it else "/stores"
    response = _redirect(next_path if next_path != "/" else default)
    _cookie(response, request, SESSION_COOKIE, session_id, int(max_age.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, context: Web, auth: PageAuth) -> Response:
    form = await _form(request)
    _check_csrf(form, auth)
    if auth.session_id:
        await anyio.to_thread.run_sync(context.accounts.end_session, auth.session_id)
    response = _redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/language")
async def language(
    request: Request,
    lang: Annotated[str, Query(max_length=10)],
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """The language switch: remembers the choice in a cookie (a preference, not account
    state), then goes back to the page."""
    if lang not in LANGUAGES:
        raise HTTPException(400, f"lang: {lang!r} is not one of {', '.join(LANGUAGES)}")
    response = _redirect(_safe_next(next))
    _cookie(response, request, LANGUAGE_COOKIE, lang, 365 * 86_400)
    return response


# --- merchant pages --------------------------------------------------------------------------


def _tickets_by_terminal(tickets: list[Ticket]) -> dict[str, list[Ticket]]:
    by_terminal: dict[str, list[Ticket]] = {}
    for ticket in tickets:
        if ticket.terminal:
            by_terminal.setdefault(ticket.terminal, []).append(ticket)
    return by_terminal


def _terminal_view(
    t: Translator, row: TerminalRow, tickets: list[Ticket], context: Any
) -> dict[str, Any]:
    zone = context.names.zone(row.store_id)
    return {
        "row": row,
        "lines": status_lines(t, row, zone),
        "tickets": [(ticket, ticket_line(t, ticket, zone)) for ticket in tickets],
    }


@router.get("/stores")
async def stores_page(
    request: Request,
    context: Web,
    auth: PageAuth,
    scope: PageScope,
    merchant: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    offset = (page - 1) * STORES_PAGE
    rows = await anyio.to_thread.run_sync(
        lambda: context.status.stores(scope, merchant or None, STORES_PAGE + 1, offset)
    )
    open_tickets, tickets_ok = await _tickets(
        request, context.tickets.not_closed(scope, merchant=merchant or None, limit=20)
    )
    return render(
        request, "stores.html", auth, stores=rows[:STORES_PAGE], page=page,
        more=len(rows) > STORES_PAGE, merchant=merchant or "", tickets=open_tickets,
        tickets_ok=tickets_ok,
    )


@router.get("/stores/{store_id}")
async def store_page(
    request: Request, store_id: str, context: Web, auth: PageAuth, scope: PageScope, t: Tr
) -> Response:
    store = await anyio.to_thread.run_sync(context.status.store, scope, store_id)
    if store is None:
        raise HTTPException(404, f"no store {store_id}")
    terminals = await anyio.to_thread.run_sync(context.status.store_terminals, scope, store_id)
    history = await anyio.to_thread.run_sync(
        lambda: context.status.history(scope, store_id=store_id, hours=24)
    )
    open_tickets, tickets_ok = await _tickets(
        request, context.tickets.not_closed(scope, store=store_id, limit=50)
    )
    recent, _ = await _tickets(request, context.tickets.find(scope, store=store_id, limit=10))
    cases = await _cases(context, scope, store=store_id)
    by_terminal = _tickets_by_terminal(open_tickets)
    zone = context.names.zone(store_id)
    return render(
        request, "store.html", auth, store=store,
        terminals=[_terminal_view(t, r, by_terminal.get(r.terminal_id, []), context)
                   for r in terminals],
        open_tickets=open_tickets, recent_tickets=recent, tickets_ok=tickets_ok,
        cases=cases, history=history, charts=history_charts(t, history.hours, zone),
        causes=CAUSES_SHOWN,
    )


async def _cases(
    context: Any, scope: Scope, *, store: str | None = None, terminal: str | None = None
) -> list[Any]:
    reader = context.cases
    if reader is None:
        return []
    found: list[Any] = await anyio.to_thread.run_sync(
        lambda: reader.find(scope, store=store, terminal=terminal, limit=20)
    )
    return found


@router.get("/terminals/{terminal_id}")
async def terminal_page(
    request: Request, terminal_id: str, context: Web, auth: PageAuth, scope: PageScope, t: Tr
) -> Response:
    row = await anyio.to_thread.run_sync(context.status.terminal, scope, terminal_id)
    if row is None:
        raise HTTPException(404, f"no terminal {terminal_id}")
    history = await anyio.to_thread.run_sync(
        lambda: context.status.history(scope, terminal_id=terminal_id, hours=24)
    )
    open_tickets, tickets_ok = await _tickets(
        request, context.tickets.not_closed(scope, terminal=terminal_id, limit=20)
    )
    recent, _ = await _tickets(
        request, context.tickets.find(scope, terminal=terminal_id, limit=10)
    )
    cases = await _cases(context, scope, terminal=terminal_id)
    zone = context.names.zone(row.store_id)
    return render(
        request, "terminal.html", auth, view=_terminal_view(t, row, open_tickets, context),
        terminal=row, open_tickets=open_tickets, recent_tickets=recent, tickets_ok=tickets_ok,
        cases=cases, history=history, charts=history_charts(t, history.hours, zone),
        causes=CAUSES_SHOWN,
    )


# --- tickets ---------------------------------------------------------------------------------


@router.get("/tickets")
async def tickets_page(
    request: Request,
    context: Web,
    auth: PageAuth,
    scope: PageScope,
    status: TicketStatus | None = None,
    merchant: Annotated[str | None, Query(max_length=100)] = None,
    store: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    found, tickets_ok = await _tickets(
        request,
        context.tickets.find(
            scope, merchant=merchant or None, store=store or None, status=status,
            limit=TICKETS_PAGE + 1, offset=(page - 1) * TICKETS_PAGE,
        ),
    )
    return render(
        request, "tickets.html", auth, tickets=found[:TICKETS_PAGE], tickets_ok=tickets_ok,
        status=status.value if status else "", merchant=merchant or "", store=store or "",
        page=page, more=len(found) > TICKETS_PAGE, statuses=[s.value for s in TicketStatus],
        done=request.query_params.get("done"),
    )


@router.get("/tickets/{ticket_id}")
async def ticket_page(
    request: Request, ticket_id: int, context: Web, auth: PageAuth, scope: PageScope
) -> Response:
    try:
        ticket = await context.tickets.get(scope, ticket_id)
    except TicketsUnavailable:
        context.metrics.ticket_failure()
        raise HTTPException(503, "tickets unavailable: the ticket bridge does not answer") from None
    if ticket is None:
        raise HTTPException(404, f"no ticket {ticket_id}")
    done = request.query_params.get("done")
    return render(request, "ticket.html", auth, ticket=ticket,
                  done=done if done in TICKET_ACTIONS else None)


TICKET_ACTIONS: Final = ("acknowledge", "assign", "comment", "close")


async def _ticket_action(
    request: Request, context: Any, auth: Auth, ticket_id: int, action: str
) -> Response:
    form = await _form(request)
    _check_csrf(form, auth)
    body: dict[str, Any] = {}
    if action == "assign":
        body["assignee"] = _field(form, "assignee")
    elif action == "comment":
        body["text"] = _field(form, "text", max_length=MAX_FORM_FIELD)
    elif action == "close":
        body["reason"] = _field(form, "reason", max_length=2000, required=False) or (
            "closed by hand"
        )
    remote = "comments" if action == "comment" else action
    await change_ticket(context, auth, ticket_id, remote, body)
    return _redirect(f"/tickets/{ticket_id}?done={action}")


@router.post("/tickets/{ticket_id}/acknowledge")
async def acknowledge_form(request: Request, ticket_id: int, context: Web,
                           auth: PageAuth) -> Response:
    return await _ticket_action(request, context, auth, ticket_id, "acknowledge")


@router.post("/tickets/{ticket_id}/assign")
async def assign_form(request: Request, ticket_id: int, context: Web, auth: PageAuth) -> Response:
    return await _ticket_action(request, context, auth, ticket_id, "assign")


@router.post("/tickets/{ticket_id}/comment")
async def comment_form(request: Request, ticket_id: int, context: Web,
                       auth: PageAuth) -> Response:
    return await _ticket_action(request, context, auth, ticket_id, "comment")


@router.post("/tickets/{ticket_id}/close")
async def close_form(request: Request, ticket_id: int, context: Web, auth: PageAuth) -> Response:
    return await _ticket_action(request, context, auth, ticket_id, "close")


# --- cases -----------------------------------------------------------------------------------


@router.get("/cases")
async def cases_page(
    request: Request,
    context: Web,
    auth: PageAuth,
    scope: PageScope,
    status: CaseStatus | None = None,
    store: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    reader = context.cases
    found: list[Any] = []
    if reader is not None:
        found = await anyio.to_thread.run_sync(
            lambda: reader.find(scope, store=store or None, status=status, limit=100)
        )
    return render(request, "cases.html", auth, cases=found,
                  status=status.value if status else "", store=store or "")


@router.get("/cases/{case_id}")
async def case_page(
    request: Request, case_id: str, context: Web, auth: PageAuth, scope: PageScope
) -> Response:
    reader = context.cases
    found = None if reader is None else await anyio.to_thread.run_sync(reader.get, scope, case_id)
    if found is None:
        raise HTTPException(404, f"no case {case_id}")
    return render(request, "case.html", auth, case=found)


# --- fleet (IT, and a merchant's own fleet) --------------------------------------------------


@router.get("/fleet")
async def fleet_page(
    request: Request,
    context: Web,
    auth: PageAuth,
    scope: PageScope,
    t: Tr,
    region: Annotated[str | None, Query(max_length=100)] = None,
    merchant: Annotated[str | None, Query(max_length=100)] = None,
    store: Annotated[str | None, Query(max_length=100)] = None,
    state: Annotated[State | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    wanted = FleetFilter(region or None, merchant or None, store or None, state)
    counts = await anyio.to_thread.run_sync(context.status.fleet_counts, scope, wanted)
    rows = await anyio.to_thread.run_sync(
        context.status.fleet_terminals, scope, wanted, FLEET_PAGE + 1, (page - 1) * FLEET_PAGE
    )
    regions = await anyio.to_thread.run_sync(context.status.regions, scope)
    merchants = await anyio.to_thread.run_sync(context.status.merchants, scope)
    filters = {k: v for k, v in (("region", region), ("merchant", merchant),
                                  ("store", store), ("state", state)) if v}
    return render(
        request, "fleet.html", auth, counts=counts, total=sum(counts.values()),
        rows=[_terminal_view(t, r, [], context) for r in rows[:FLEET_PAGE]],
        page=page, more=len(rows) > FLEET_PAGE, regions=regions, merchants=merchants,
        filters=filters, query_of=lambda **extra: urlencode({**filters, **extra}),
        states=("online", "degraded", "offline"),
    )


# --- account ---------------------------------------------------------------------------------


@router.get("/account")
async def account_page(request: Request, context: Web, auth: PageAuth) -> Response:
    tokens = await anyio.to_thread.run_sync(context.accounts.tokens, auth.user)
    return render(request, "account.html", auth, tokens=tokens, new_token=None, error=None)


@router.post("/account/tokens")
async def create_token(request: Request, context: Web, auth: PageAuth) -> Response:
    form = await _form(request)
    _check_csrf(form, auth)
    name = _field(form, "name", max_length=100)
    try:
        token = await anyio.to_thread.run_sync(context.accounts.create_token, auth.user, name)
    except AccountError as exc:
        raise BadForm("name", str(exc)) from None
    tokens = await anyio.to_thread.run_sync(context.accounts.tokens, auth.user)
    return render(request, "account.html", auth, tokens=tokens, new_token=token, error=None)


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: int, context: Web, auth: PageAuth) -> Response:
    form = await _form(request)
    _check_csrf(form, auth)
    revoked = await anyio.to_thread.run_sync(context.accounts.revoke_token, auth.user, token_id)
    if not revoked:
        raise HTTPException(404, f"no token {token_id}")
    return _redirect("/account")


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _redirect(f"/login?next={quote(target)}")
