"""Request dependencies: who is calling, within which scope, and the checks on changes.

Pages sign in with a session cookie; the JSON API takes an API token
(``Authorization: Bearer pfw_...``) or the page's session. Changes need the session's CSRF
token (form field, or the X-CSRF-Token header for the API) unless an API token is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

import anyio
from fastapi import Depends, HTTPException, Request

from posfleet.web.accounts import User
from posfleet.web.context import WebContext
from posfleet.web.i18n import LANGUAGE_COOKIE, Translator, negotiate
from posfleet.web.scope import Scope
from posfleet.web.security import CSRF_HEADER, SESSION_COOKIE, same_token


class LoginRequired(Exception):
    """A page needs a signed-in user: the app redirects to the sign-in page."""


@dataclass(frozen=True, slots=True)
class Auth:
    user: User
    via: Literal["session", "token"]
    csrf: str | None
    """The session's CSRF token (None with an API token)."""
    session_id: str | None = None


def web(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context


Web = Annotated[WebContext, Depends(web)]


def translator(request: Request) -> Translator:
    cached = getattr(request.state, "translator", None)
    if isinstance(cached, Translator):
        return cached
    context = web(request)
    language = negotiate(
        request.headers.get("accept-language"),
        request.cookies.get(LANGUAGE_COOKIE),
        context.settings.default_language,
    )
    result = Translator(language)
    request.state.translator = result
    return result


Tr = Annotated[Translator, Depends(translator)]


async def current_auth(request: Request) -> Auth | None:
    """The caller, from an API token or a session cookie (None when neither is valid)."""
    if hasattr(request.state, "auth"):
        cached: Auth | None = request.state.auth
        return cached
    context = web(request)
    found: Auth | None = None
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            user = await anyio.to_thread.run_sync(context.accounts.token_user, value.strip())
            if user is not None:
                found = Auth(user, "token", None)
    else:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            session = await anyio.to_thread.run_sync(
                lambda: context.accounts.session(session_id, _idle(context))
            )
            if session is not None:
                found = Auth(session.user, "session", session.csrf_token, session_id)
    request.state.auth = found
    return found


def _idle(context: WebContext) -> timedelta:
    return timedelta(seconds=context.settings.session_idle_seconds)


async def page_auth(request: Request) -> Auth:
    auth = await current_auth(request)
    if auth is None or auth.via != "session":
        raise LoginRequired()
    return auth


async def api_auth(request: Request) -> Auth:
    auth = await current_auth(request)
    if auth is None:
        raise HTTPException(
            401,
            "authentication required: an API token (Authorization: Bearer) or a session",
            headers={"WWW-Authenticate": 'Bearer realm="posfleet-web"'},
        )
    return auth


PageAuth = Annotated[Auth, Depends(page_auth)]
ApiAuth = Annotated[Auth, Depends(api_auth)]


def page_scope(auth: PageAuth) -> Scope:
    return Scope.of(auth.user)


def api_scope(auth: ApiAuth) -> Scope:
    return Scope.of(auth.user)


PageScope = Annotated[Scope, Depends(page_scope)]
ApiScope = Annotated[Scope, Depends(api_scope)]


def require_it(auth: Auth) -> None:
    if not auth.user.is_it:
        raise HTTPException(403, "only IT users may do this")


async def api_change(request: Request, auth: ApiAuth) -> Auth:
    """An API change: an API token, or a session plus its CSRF token in X-CSRF-Token."""
    if auth.via == "session" and not same_token(request.headers.get(CSRF_HEADER), auth.csrf):
        raise HTTPException(403, f"{CSRF_HEADER}: missing or wrong CSRF token for this session")
    return auth


ApiChange = Annotated[Auth, Depends(api_change)]
