"""The driver plug-in interface.

A driver knows one way of reading a terminal (a serial ESC/POS printer, an HTTP status
endpoint, MQTT pushes) and nothing else: scheduling, timeouts, backoff, self-metrics and
buffering live in the collector's wrapper around it. A driver implements one method,
:meth:`Driver.read`. Third-party drivers register a :class:`DriverPlugin` under the
``posfleet.drivers`` entry-point group (see ``docs/writing-a-driver.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Protocol

from pydantic import BaseModel

from posfleet.telemetry.base import TelemetryModel

ENTRY_POINT_GROUP = "posfleet.drivers"


@dataclass(frozen=True, slots=True)
class Reading:
    """What one read of one source saw."""

    observed_at: datetime
    """When the device was observed (timezone-aware)."""
    parts: Mapping[str, TelemetryModel]
    """Components of the status snapshot this source reports, by snapshot field name
    (``printer``, ``network``, ...). Components it does not report are left out."""
    device: Mapping[str, str] = field(default_factory=dict)
    """Identity the device reports about itself: ``serial``, ``model``, ``vendor``."""


class DriverError(Exception):
    """A read failed for a reason worth counting (the wrapper handles timeouts itself).

    ``reason`` is a short, fixed label used in metrics (``malformed``, ``unauthorized``,
    ``too_large``, ``unreachable``, ``no_answer``, ``stale``); the message is for logs
    and names the field or byte that was wrong.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Driver(Protocol):
    """Reads one source of one terminal."""

    async def read(self) -> Reading:
        """Read the source once; raise :class:`DriverError` when it answered badly."""
        ...


@dataclass(frozen=True, slots=True)
class DriverContext:
    """What a driver may know about the terminal it reads and the collector it runs in."""

    terminal_id: str
    merchant_id: str
    store_id: str
    max_payload_bytes: int = 1_048_576
    resources: Mapping[str, Any] = field(default_factory=dict)
    """Shared clients the collector provides by name (e.g. ``mqtt`` for push drivers)."""


@dataclass(frozen=True, slots=True)
class DriverPlugin:
    """What a driver package exports: its name, settings model and factory."""

    name: str
    """Name used in the configuration file (``driver: escpos``)."""
    settings_model: type[BaseModel]
    """pydantic model of the ``connection`` settings; its field docs are the reference."""
    create: Callable[[Any, DriverContext], Driver] | None = None
    """Builds a driver for one source from validated settings and its context."""


@cache
def installed_drivers() -> dict[str, DriverPlugin]:
    """Every driver plug-in installed, built-ins included, by name."""
    plugins = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        plugin = entry_point.load()
        if not isinstance(plugin, DriverPlugin):
            raise TypeError(f"entry point {entry_point.value} is not a DriverPlugin")
        plugins[entry_point.name] = plugin
    return plugins
