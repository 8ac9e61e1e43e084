"""A small protobuf reader for WriteRequests, to check what the writer sends."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cramjam


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    label_order: list[str]
    samples: list[tuple[float, int]]


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    number, shift = 0, 0
    while True:
        byte = data[offset]
        offset += 1
        number |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return number, offset


def _fields(data: bytes) -> list[tuple[int, int, bytes | int]]:
    """(field number, wire type, payload) of every field of a message."""
    fields: list[tuple[int, int, bytes | int]] = []
    offset = 0
    while offset < len(data):
        tag, offset = _varint(data, offset)
        number, wire = tag >> 3, tag & 7
        if wire == 2:
            length, offset = _varint(data, offset)
            fields.append((number, wire, data[offset : offset + length]))
            offset += length
        elif wire == 1:
            fields.append((number, wire, data[offset : offset + 8]))
            offset += 8
        elif wire == 0:
            value, offset = _varint(data, offset)
            fields.append((number, wire, value))
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return fields


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def decode_write_request(body: bytes) -> list[Series]:
    series = []
    for number, _, payload in _fields(body):
        if number != 1 or not isinstance(payload, bytes):
            raise ValueError(f"WriteRequest field {number} is not a TimeSeries")
        labels: dict[str, str] = {}
        order: list[str] = []
        samples: list[tuple[float, int]] = []
        for field, _, part in _fields(payload):
            assert isinstance(part, bytes)
            if field == 1:
                pair = {n: p for n, _, p in _fields(part)}
                name, value = pair[1], pair[2]
                if not isinstance(name, bytes) or not isinstance(value, bytes):
                    raise ValueError("Label fields must be strings")
                labels[name.decode()] = value.decode()
                order.append(name.decode())
            elif field == 2:
                sample = {n: p for n, _, p in _fields(part)}
                raw, timestamp = sample[1], sample[2]
                if not isinstance(raw, bytes) or not isinstance(timestamp, int):
                    raise ValueError("Sample must be a double and a varint")
                samples.append((struct.unpack("<d", raw)[0], _signed(timestamp)))
        series.append(Series(labels, order, samples))
    return series


def decode_snappy_request(compressed: bytes) -> list[Series]:
    return decode_write_request(bytes(cramjam.snappy.decompress_raw(compressed)))
