"""Alertmanager's webhook payload, version 4, as the bridge accepts it.

Field names follow the wire format (camelCase). Unknown extra fields are ignored, because
newer Alertmanagers add fields without bumping ``version``; missing or mistyped ones are
rejected with the field's path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AlertStatus = Literal["firing", "resolved"]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Alert(_Wire):
    """One alert of a notification; its own status counts, not the group's."""

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    """Alertmanager sends 0001-01-01T00:00:00Z while the alert fires."""
    generatorURL: str = ""
    fingerprint: str = ""


class WebhookMessage(_Wire):
    """A notification from Alertmanager's webhook receiver (``webhook_configs``)."""

    version: Literal["4"]
    groupKey: str
    truncatedAlerts: int = 0
    status: AlertStatus
    receiver: str
    groupLabels: dict[str, str]
    commonLabels: dict[str, str]
    commonAnnotations: dict[str, str]
    externalURL: str
    alerts: list[Alert] = Field(min_length=1)
