"""MQTT topic layout, version 1 (public: terminals and edge collectors publish to it).

``<prefix>/<merchant>/<store>/<terminal>/status``        status snapshot (JSON)
``<prefix>/<merchant>/<store>/<terminal>/transactions``  transaction event (JSON)
``<prefix>/collectors/<collector>/online``               retained "online" / "offline"

The default prefix is ``posfleet/v1``; ids never contain ``/``, ``+`` or ``#`` (see
:data:`posfleet.telemetry.base.Identifier`), so each id is exactly one topic level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DEFAULT_PREFIX = "posfleet/v1"
MessageKind = Literal["status", "transactions"]
KINDS: tuple[MessageKind, ...] = ("status", "transactions")


def terminal_topic(prefix: str, merchant: str, store: str, terminal: str, kind: MessageKind) -> str:
    return f"{prefix}/{merchant}/{store}/{terminal}/{kind}"


def subscription(prefix: str, kind: MessageKind) -> str:
    """Filter for every terminal's messages of one kind."""
    return f"{prefix}/+/+/+/{kind}"


def collector_online_topic(prefix: str, collector: str) -> str:
    return f"{prefix}/collectors/{collector}/online"


@dataclass(frozen=True, slots=True)
class TerminalTopic:
    merchant: str
    store: str
    terminal: str
    kind: MessageKind


def parse_terminal_topic(prefix: str, topic: str) -> TerminalTopic | None:
    """The parts of a terminal topic under ``prefix``, or None when it is not one."""
    if not topic.startswith(prefix + "/"):
        return None
    parts = topic[len(prefix) + 1 :].split("/")
    if len(parts) != 4 or parts[3] not in KINDS or not all(parts[:3]):
        return None
    kind: MessageKind = "status" if parts[3] == "status" else "transactions"
    return TerminalTopic(parts[0], parts[1], parts[2], kind)
