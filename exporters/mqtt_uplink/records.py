"""One buffered uplink message as one disk-buffer record: topic and payload together."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_TOPIC_LENGTH = struct.Struct(">H")


class BadRecord(ValueError):
    """A buffer record that is not a topic and payload (e.g. written by something else)."""


@dataclass(frozen=True, slots=True)
class UplinkMessage:
    topic: str
    payload: bytes


def encode(message: UplinkMessage) -> bytes:
    topic = message.topic.encode()
    return _TOPIC_LENGTH.pack(len(topic)) + topic + message.payload


def decode(record: bytes) -> UplinkMessage:
    if len(record) < _TOPIC_LENGTH.size:
        raise BadRecord(f"record of {len(record)} bytes has no topic length")
    (length,) = _TOPIC_LENGTH.unpack_from(record)
    end = _TOPIC_LENGTH.size + length
    if end > len(record):
        raise BadRecord(f"topic length {length} runs past the record's {len(record)} bytes")
    try:
        topic = record[_TOPIC_LENGTH.size : end].decode()
    except UnicodeDecodeError as exc:
        raise BadRecord(f"topic is not UTF-8 (byte {exc.start})") from None
    return UplinkMessage(topic, record[end:])
