"""Rendering pages: Jinja2 templates from the package, with the translator, the caller and
the CSRF token in every template."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from posfleet.web.deps import Auth, translator, web
from posfleet.web.present import local_time, percent


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("posfleet.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["percent"] = percent
    return env


def render(
    request: Request,
    template: str,
    auth: Auth | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    context = web(request)
    t = translator(request)
    now = context.clock()

    def when(moment: datetime | None, store_id: str | None = None) -> str:
        return local_time(moment, context.names.zone(store_id), now)

    html = environment().get_template(template).render(
        t=t,
        lang=t.language,
        user=auth.user if auth else None,
        csrf=auth.csrf if auth else None,
        path=request.url.path,
        query=request.url.query,
        names=context.names,
        when=when,
        grafana=context.settings.grafana_url,
        dashboards=context.settings.grafana_dashboards,
        **values,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response
