"""The web app's OpenAPI document, as published in docs/schema/web.openapi.json."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from posfleet.web.accounts import AccountStore
from posfleet.web.app import create_app
from posfleet.web.config import WebSettings
from posfleet.web.context import WebContext
from posfleet.web.data import StatusReader
from posfleet.web.metrics import WebMetrics
from posfleet.web.present import Names
from posfleet.web.security import LoginLimiter
from posfleet.web.tickets import TicketsClient

PUBLISHED_PATH = Path("docs/schema/web.openapi.json")


def openapi_document() -> dict[str, Any]:
    """Build the app on throwaway in-memory databases and return its OpenAPI document."""
    engine = create_engine("sqlite://")
    context = WebContext(
        settings=WebSettings(),
        status=StatusReader(engine, timedelta(minutes=5)),
        accounts=AccountStore(engine, session_secret=b"openapi"),
        cases=None,
        tickets=TicketsClient(None, None),
        names=Names(),
        metrics=WebMetrics(),
        limiter=LoginLimiter(5, 20, 900),
    )
    document = create_app(context).openapi()
    engine.dispose()
    return document


def openapi_text() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


def write_openapi(path: Path = PUBLISHED_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(openapi_text(), encoding="utf-8")
    return path
