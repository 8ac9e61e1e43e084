"""Hand-encoded protobuf of the remote-write 1.0 ``WriteRequest`` (no protobuf dependency).

Field numbers from prometheus/prompb (``remote.proto`` and ``types.proto``)::

    message WriteRequest { repeated TimeSeries timeseries = 1; }
    message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    message Label        { string name = 1; string value = 2; }
    message Sample       { double value = 1; int64 timestamp = 2; }  // milliseconds

The spec wants labels sorted by name, unique, non-empty values, and ``__name__`` present;
:func:`encode_labels` takes care of that. A series' labels are encoded once and reused,
since only the sample changes from one send to the next.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Final

NAME_LABEL: Final = "__name__"

# Tags: (field number << 3) | wire type; 2 = length-delimited, 1 = 64-bit, 0 = varint.
_TIMESERIES: Final = b"\x0a"  # WriteRequest.timeseries = 1
_LABEL: Final = b"\x0a"  # TimeSeries.labels = 1
_SAMPLE: Final = b"\x12"  # TimeSeries.samples = 2
_LABEL_NAME: Final = b"\x0a"  # Label.name = 1
_LABEL_VALUE: Final = b"\x12"  # Label.value = 2
_SAMPLE_VALUE: Final = b"\x09"  # Sample.value = 1 (double)
_SAMPLE_TIMESTAMP: Final = b"\x10"  # Sample.timestamp = 2 (int64 varint)
_DOUBLE: Final = struct.Struct("<d")


def varint(number: int) -> bytes:
    """Base-128 varint; negative int64 values as their 64-bit two's complement."""
    number &= (1 << 64) - 1
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + varint(len(payload)) + payload


def encode_labels(name: str, labels: Mapping[str, str]) -> bytes:
    """The ``labels`` fields of a TimeSeries: ``__name__`` plus ``labels``, sorted by name,
    without empty values (an empty value means the label is absent)."""
    pairs = sorted({**labels, NAME_LABEL: name}.items())
    return b"".join(
        _field(
            _LABEL,
            _field(_LABEL_NAME, key.encode()) + _field(_LABEL_VALUE, value.encode()),
        )
        for key, value in pairs
        if value
    )


class SampleEncoder:
    """Encodes TimeSeries with one sample each, all at the same timestamp."""

    def __init__(self, timestamp_ms: int) -> None:
        self._timestamp = _SAMPLE_TIMESTAMP + varint(timestamp_ms)
        # Sample = value tag + 8 bytes + timestamp field; its length is the same every time.
        self._sample_prefix = _SAMPLE + varint(1 + 8 + len(self._timestamp)) + _SAMPLE_VALUE

    def timeseries(self, labels: bytes, value: float) -> bytes:
        """One ``WriteRequest.timeseries`` field."""
        body = labels + self._sample_prefix + _DOUBLE.pack(value) + self._timestamp
        return _TIMESERIES + varint(len(body)) + body


def write_request(timeseries: Iterable[bytes]) -> bytes:
    """A WriteRequest from fields made by :meth:`SampleEncoder.timeseries`."""
    return b"".join(timeseries)
