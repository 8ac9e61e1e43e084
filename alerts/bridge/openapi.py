"""The bridge's OpenAPI document, as published in docs/schema/tickets.openapi.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from posfleet.alerts.bridge.bridge import TicketBridge
from posfleet.alerts.bridge.store import TicketStore
from posfleet.config.models import TicketsSettings

PUBLISHED_PATH = Path("docs/schema/tickets.openapi.json")


def openapi_document() -> dict[str, Any]:
    """Build the app with default settings (no database is touched) and return its OpenAPI."""
    store = TicketStore(create_engine("sqlite://"))
    bridge = TicketBridge(TicketsSettings(), store=store, targets={}, background=False)
    return bridge.app.openapi()


def openapi_text() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


def write_openapi(path: Path = PUBLISHED_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(openapi_text(), encoding="utf-8")
    return path
