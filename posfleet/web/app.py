"""The web app: pages, the JSON API, static files, /metrics and /healthz in one FastAPI app.

Errors never show a traceback: bad input answers 400 (pages) or 422 (API) naming the
field, and is counted; a missing or foreign id answers 404; a page without a session
redirects to the sign-in page, an API call without credentials gets 401.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any

import anyio
from fastapi import FastAPI, HTTPException, Request, routing
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from posfleet import __version__
from posfleet.validation import format_location
from posfleet.web import api, pages
from posfleet.web.context import WebContext
from posfleet.web.deps import LoginRequired, current_auth, translator
from posfleet.web.pages import BadForm, login_redirect
from posfleet.web.render import render
from posfleet.web.security import SECURITY_HEADERS

log = logging.getLogger(__name__)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


def _field_messages(exc: RequestValidationError) -> list[str]:
    messages = []
    for error in exc.errors():
        location = list(error.get("loc", ()))
        messages.append(f"{format_location(location)}: {error.get('msg', 'invalid')}")
    return messages


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path template) the app answers, included routers flattened."""
    found: set[tuple[str, str]] = set()
    for route in routing.iter_route_contexts(app.routes):
        path, methods = route.path, route.methods
        if path and methods:
            found.update((method, path) for method in methods if method != "HEAD")
    return sorted(found, key=lambda item: (item[1], item[0]))


def create_app(context: WebContext, **fastapi_options: Any) -> FastAPI:
    """The web app around ``context``; closing the app's lifespan closes the context."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await context.aclose()

    app = FastAPI(
        title="posfleet web",
        version=__version__,
        summary="Status of card-payment terminals for merchants and IT: stores, terminals, "
        "history, maintenance tickets and charged-but-failed cases.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        **fastapi_options,
    )
    app.state.web = context
    metrics = context.metrics

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        metrics.request(
            _route_of(request), request.method, response.status_code,
            time.perf_counter() - started,
        )
        return response

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        return login_redirect(request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        metrics.count(metrics.invalid_input, _route_of(request))
        messages = _field_messages(exc)
        if _is_api(request):
            return JSONResponse({"detail": messages}, status_code=422)
        return await _error_page(request, 400, "; ".join(messages))

    @app.exception_handler(BadForm)
    async def _bad_form(request: Request, exc: BadForm) -> Response:
        metrics.count(metrics.invalid_input, _route_of(request))
        return await _error_page(request, 400, str(exc))

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeoutError)
    async def _database(request: Request, exc: Exception) -> Response:
        log.warning("web: database unavailable on %s: %s", request.url.path, exc)
        detail = "database unavailable, retry in a moment"
        if _is_api(request):
            return JSONResponse({"detail": detail}, status_code=503,
                                headers={"Retry-After": "5"})
        return await _error_page(request, 503, detail)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if _is_api(request) or exc.status_code == 401:
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return await _error_page(request, exc.status_code, str(exc.detail))

    async def _error_page(request: Request, status: int, detail: str) -> Response:
        try:
            auth = await current_auth(request)
        except (DBAPIError, PoolTimeoutError):
            auth = None
        t = translator(request)
        key = f"error.{status}"
        title = t(key) if t.has(key) else t("error.other")
        return render(request, "error.html", auth, status_code=status, title=title,
                      detail=detail, status=status)

    app.include_router(api.router)
    app.include_router(pages.router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """200 while the status store answers."""
        def ping() -> None:
            with context.status.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")

        await anyio.to_thread.run_sync(ping)
        return {"status": "ok"}

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def prometheus_metrics() -> PlainTextResponse:
        """Self-metrics in the Prometheus text format."""
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    static = resources.files("posfleet.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    _publish_security(app)
    return app


def _publish_security(app: FastAPI) -> None:
    """Describe the API's authentication in the OpenAPI document (the routes check it in a
    dependency, which FastAPI does not see as a security scheme)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        document.setdefault("components", {})["securitySchemes"] = {
            "apiToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token (pfw_...) created on the Account page.",
            },
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": "posfleet_session",
                "description": "The pages' session; changes also need the X-CSRF-Token header.",
            },
        }
        for path, operations in document.get("paths", {}).items():
            if path.startswith("/api/"):
                for operation in operations.values():
                    operation["security"] = [{"apiToken": []}, {"session": []}]
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
