"""Broker connections for the uplink and for ingest: MQTT v5, persistent session, TLS.

Both sides need the same things from a URL and a few options (client id, session expiry,
Last Will, receive maximum), so one function builds the client for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


class BrokerUrlError(ValueError):
    """The broker URL is not mqtt://host[:port] or mqtts://host[:port]."""


@dataclass(frozen=True, slots=True)
class BrokerOptions:
    """Where and how to connect, from a config section."""

    url: str
    client_id: str
    session_expiry_seconds: int
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    keepalive_seconds: int = 30
    receive_maximum: int | None = None
    """MQTT v5 receive maximum: unacknowledged QoS 1 messages the broker may send us."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://host:1883`` or ``mqtts://host:8883`` -> host, port, TLS."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise BrokerUrlError(f"broker URL '{url}' is not mqtt://host[:port] or mqtts://host[:port]")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise BrokerUrlError(f"broker URL '{url}' has an invalid port") from None
    return BrokerAddress(parts.hostname, port, tls)


def connect_properties(options: BrokerOptions) -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = options.session_expiry_seconds
    if options.receive_maximum is not None:
        properties.ReceiveMaximum = options.receive_maximum
    return properties


def make_client(
    options: BrokerOptions,
    *,
    will: aiomqtt.Will | None = None,
    max_inflight: int | None = None,
    max_queued_incoming: int = 0,
) -> aiomqtt.Client:
    """An unconnected MQTT v5 client that resumes its session (clean_start false)."""
    address = parse_broker_url(options.url)
    tls = (
        aiomqtt.TLSParameters(
            ca_certs=options.ca_file,
            certfile=options.client_cert_file,
            keyfile=options.client_key_file,
        )
        if address.tls
        else None
    )
    client = aiomqtt.Client(
        address.host,
        address.port,
        username=options.username,
        password=options.password,
        identifier=options.client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=connect_properties(options),
        keepalive=options.keepalive_seconds,
        will=will,
        max_inflight_messages=max_inflight,
        max_queued_incoming_messages=max_queued_incoming,
        tls_params=tls,
    )
    # aiomqtt warns once per publish beyond this many awaiting PUBACK; a bounded window of
    # in-flight publishes is the point here, not a problem.
    client.pending_calls_threshold = max(client.pending_calls_threshold, max_inflight or 0, 1_000)
    return client


def paho_client(client: aiomqtt.Client) -> paho.Client:
    """The paho client under an aiomqtt client.

    aiomqtt 2.5 has no API for manual acknowledgement, which paho 2 has
    (``manual_ack_set``, ``ack``); ingest needs it to acknowledge only written messages.
    """
    inner: paho.Client = client._client
    return inner
