"""Ingest's MQTT connection (gmqtt): the only module that talks to the broker.

One :class:`BrokerConnection` is one network connection: MQTT v5 with a persistent session
(clean start off, ``session_expiry_seconds``), receive maximum ``max_in_flight``, TLS and
user name/password from the options, and the shared subscriptions. QoS 1 messages go into
``messages``/``mids`` as they arrive; nothing is acknowledged until :meth:`acknowledge`.

Why QoS 1 messages are taken from gmqtt's packet handler rather than ``on_message``:
gmqtt's own manual acknowledgement (``optimistic_acknowledgement=False``) runs an async
``on_message`` as one task per message and sends each PUBACK with its own ``send()`` when
that task returns (0 for success; a handler that returns None or raises sends nothing,
and asyncio logs the exception). That costs ~30 us per message, more than the checks, and
leaves no room for 20,000 messages/s. So this module replaces the one handler method that
gmqtt calls with the packet identifier of a QoS 1 PUBLISH, and acknowledges a whole batch
with one write. Everything else (connect, TLS, keep-alive, SUBACK, DISCONNECT) is gmqtt's
public API. ``tests/exporters/ingest/test_connection.py`` pins the gmqtt internals used here.

gmqtt reconnects by itself, with the same client id; ingest does not let it (see
:class:`_SingleConnectionClient`): a new connection is a new :class:`BrokerConnection`, so a
PUBACK for a message of a dead connection can never reach the broker on the next one.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import struct
from collections.abc import Callable, Sequence
from typing import Any, Final

import gmqtt  # type: ignore[import-untyped]

from posfleet.exporters.mqtt_uplink.connection import BrokerOptions, parse_broker_url

logger = logging.getLogger(__name__)

# MQTT v5 §3.4.2.1: a PUBACK with Remaining Length 2 is "Success" without properties.
_PUBACK: Final = struct.Struct("!BBH")
_PUBACK_TYPE: Final = 0x40
_SUBACK_FAILURE: Final = 0x80
QOS_1_HANDLER: Final = "_handle_qos_1_publish_packet"
"""The gmqtt ``MqttPackageHandler`` method that receives (mid, payload, topic, properties)
for every QoS 1 PUBLISH."""


class ConnectionFailed(Exception):
    """Could not connect or subscribe; the message says why."""


class _SingleConnectionClient(gmqtt.Client):  # type: ignore[misc]
    """A gmqtt client that never reconnects on its own.

    gmqtt schedules ``reconnect`` whenever the connection drops, and ``stop_reconnect()``
    still lets the first attempt through (``failed_connections <= reconnect_retries`` is
    ``0 <= 0``). A silent reconnect with ingest's client id would take the session over
    from the connection ingest opens next, so reconnecting is left to ``IngestConsumer``.
    """

    async def reconnect(self, delay: bool = False) -> None:
        return None


def tls_context(options: BrokerOptions) -> ssl.SSLContext:
    """Verify the broker (system CAs or ``ca_file``); present a client certificate if set.

    Reads files: call it in a thread.
    """
    context = ssl.create_default_context(cafile=options.ca_file)
    if options.client_cert_file:
        context.load_cert_chain(options.client_cert_file, options.client_key_file)
    return context


class BrokerConnection:
    """One connection to the broker, from :meth:`open` until :attr:`lost` or :meth:`close`.

    ``messages`` holds ``(topic, payload)`` of every message received and not yet taken,
    ``mids`` the matching packet identifiers (None for QoS 0, which needs no PUBACK).
    ``on_arrival`` is called after each message is added, and once when the connection is
    lost, so a consumer can sleep until there is something to do.
    """

    def __init__(
        self,
        options: BrokerOptions,
        topics: Sequence[str],
        on_arrival: Callable[[], None],
        *,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._options = options
        self._address = parse_broker_url(options.url)
        self._topics = list(topics)
        self._on_arrival = on_arrival
        self._timeout = timeout_seconds
        self.messages: list[tuple[str, bytes]] = []
        self.mids: list[int | None] = []
        self.lost = False
        self._suback: asyncio.Future[Sequence[int]] | None = None
        self._client = self._make_client()

    def _make_client(self) -> Any:
        options = self._options
        properties: dict[str, int] = {"session_expiry_interval": options.session_expiry_seconds}
        if options.receive_maximum is not None:
            properties["receive_maximum"] = options.receive_maximum
        client = _SingleConnectionClient(
            options.client_id,
            clean_session=False,
            optimistic_acknowledgement=False,
            **properties,
        )
        if options.username is not None:
            client.set_auth_credentials(options.username, options.password)
        handler = client._package_handler
        if not callable(getattr(handler, QOS_1_HANDLER, None)):
            raise RuntimeError(
                f"gmqtt {gmqtt.__version__} has no {QOS_1_HANDLER}: "
                "ingest cannot acknowledge after the write with this version"
            )
        setattr(handler, QOS_1_HANDLER, self._received_qos_1)
        client.on_message = self._received_qos_0
        client.on_subscribe = self._subscribed
        client.on_disconnect = self._disconnected
        return client

    # --- gmqtt callbacks (on the event loop, as packets arrive) ----------------------------

    def _received_qos_1(
        self, mid: int, payload: bytes, topic: str | bytes, _properties: object
    ) -> None:
        if not isinstance(topic, str):  # gmqtt hands over bytes it could not decode
            topic = topic.decode("utf-8", "replace")
        self.messages.append((topic, payload))
        self.mids.append(mid)
        self._on_arrival()

    def _received_qos_0(
        self, _client: object, topic: str | bytes, payload: bytes, _qos: int, _props: object
    ) -> None:
        if not isinstance(topic, str):
            topic = topic.decode("utf-8", "replace")
        self.messages.append((topic, payload))
        self.mids.append(None)
        self._on_arrival()

    def _subscribed(
        self, _client: object, _mid: int, granted: Sequence[int], _properties: object
    ) -> None:
        if self._suback is not None and not self._suback.done():
            self._suback.set_result(granted)

    def _disconnected(self, _client: object, _packet: object = None, _exc: object = None) -> None:
        self.lost = True
        if self._suback is not None and not self._suback.done():
            self._suback.set_exception(ConnectionFailed("the broker closed the connection"))
        self._on_arrival()

    # --- ingest's side ---------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and subscribe; raises :class:`ConnectionFailed` with the reason.

        Messages the session kept while ingest was away may arrive before the SUBACK.
        """
        address = self._address
        try:
            context = await asyncio.to_thread(tls_context, self._options) if address.tls else False
        except (OSError, ssl.SSLError) as exc:
            raise ConnectionFailed(f"TLS set-up: {exc}") from None
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.connect(
                    address.host,
                    address.port,
                    ssl=context,
                    keepalive=self._options.keepalive_seconds,
                    version=gmqtt.constants.MQTTv50,
                )
                if self.lost:
                    raise ConnectionFailed("the broker closed the connection")
                self._suback = asyncio.get_running_loop().create_future()
                self._client.subscribe([gmqtt.Subscription(topic, qos=1) for topic in self._topics])
                granted = await self._suback
        except TimeoutError:
            raise ConnectionFailed(
                f"no answer from {address.host}:{address.port} within {self._timeout:.0f} s"
            ) from None
        except (OSError, gmqtt.MQTTConnectError) as exc:
            raise ConnectionFailed(f"{address.host}:{address.port}: {exc}") from None
        refused = [
            f"{topic} (reason code 0x{code:02x})"
            for topic, code in zip(self._topics, granted, strict=False)
            if code >= _SUBACK_FAILURE
        ]
        if refused:
            raise ConnectionFailed(f"the broker refused the subscriptions {', '.join(refused)}")

    def take(self, limit: int) -> tuple[list[tuple[str, bytes]], list[int | None]]:
        """Up to ``limit`` of the oldest received messages and their packet identifiers."""
        messages, mids = self.messages[:limit], self.mids[:limit]
        del self.messages[:limit], self.mids[:limit]
        return messages, mids

    def acknowledge(self, mids: Sequence[int]) -> int:
        """Send one PUBACK per packet identifier, in one write; returns how many were sent
        (none once the connection is gone: the broker sends those messages again)."""
        connection = self._client._connection
        if not mids or self.lost or connection is None or connection.is_closing():
            return 0
        pack = _PUBACK.pack
        connection.send_package(b"".join([pack(_PUBACK_TYPE, 2, mid) for mid in mids]))
        return len(mids)

    async def close(self) -> None:
        """Disconnect (DISCONNECT, normal) if still connected; unacknowledged messages stay
        in the session and the broker sends them again on the next connection."""
        self.messages.clear()
        self.mids.clear()
        client = self._client
        connection = client._connection
        if self.lost or connection is None or connection.is_closing():
            return
        self.lost = True
        try:
            async with asyncio.timeout(self._timeout):
                await client.disconnect()
        except (TimeoutError, OSError) as exc:
            logger.debug("ingest: disconnecting: %r", exc)
