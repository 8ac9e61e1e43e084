"""What ingest accepts: a message on a known terminal topic whose body passes the telemetry
contract (the collector's own input checks) and names the terminal the topic names."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from posfleet.collector.driver import DriverError
from posfleet.collector.inputs import WRONG_TERMINAL, parse_status, parse_transaction
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from posfleet.topics import parse_terminal_topic

UNKNOWN_TOPIC: Final = "unknown_topic"
ROUTE_CACHE_SIZE: Final = 200_000
"""Topics remembered (about two per terminal and prefix); the cache starts over when full."""

Message = StatusSnapshot | TransactionEvent


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str
    """too_large, binary, malformed, card_data, wrong_terminal or unknown_topic."""
    detail: str
    log_key: str
    """Who sent it (the topic's terminal, or the topic), for rate-limited logging."""


@dataclass(frozen=True, slots=True)
class _Route:
    parse: Callable[[bytes, int], Message]
    identity: tuple[str, str, str]
    """merchant, store, terminal from the topic."""
    key: str
    """merchant/store/terminal."""


class MessageChecker:
    """Checks messages on topics under any of ``prefixes`` (uplink first, then pushes).

    The same few topics (one per terminal and kind) arrive again and again, so what a topic
    means is worked out once and remembered.
    """

    def __init__(
        self,
        prefixes: Sequence[str],
        max_payload_bytes: int,
        *,
        route_cache_size: int = ROUTE_CACHE_SIZE,
    ) -> None:
        self._prefixes = tuple(prefixes)
        self._max_bytes = max_payload_bytes
        self._routes: dict[str, _Route] = {}
        self._cache_size = route_cache_size

    def _route(self, topic: str) -> _Route | None:
        for prefix in self._prefixes:
            parsed = parse_terminal_topic(prefix, topic)
            if parsed is not None:
                if len(self._routes) >= self._cache_size:
                    self._routes.clear()
                route = _Route(
                    parse_status if parsed.kind == "status" else parse_transaction,
                    (parsed.merchant, parsed.store, parsed.terminal),
                    f"{parsed.merchant}/{parsed.store}/{parsed.terminal}",
                )
                self._routes[topic] = route
                return route
        return None

    def check(self, topic: str, payload: bytes) -> Message | Refused:
        """The parsed message, or why it is refused."""
        route = self._routes.get(topic) or self._route(topic)
        if route is None:
            return Refused(UNKNOWN_TOPIC, "not a terminal status or transactions topic", topic)
        try:
            message = route.parse(payload, self._max_bytes)
        except DriverError as exc:
            return Refused(exc.reason, str(exc), route.key)
        if (message.merchant_id, message.store_id, message.terminal_id) != route.identity:
            body = f"{message.merchant_id}/{message.store_id}/{message.terminal_id}"
            detail = f"the body is from {body}, the topic belongs to {route.key}"
            return Refused(WRONG_TERMINAL, detail, route.key)
        return message
