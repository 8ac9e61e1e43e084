"""Shared building blocks of the telemetry messages."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

TELEMETRY_SCHEMA_VERSION: Final = 1
"""Major version of the telemetry contract. Additive changes keep it; anything that could
break a producer or consumer (a removed or renamed field, a narrower type) raises it."""

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"),
    Field(examples=["T-0451"]),
]
"""Ids travel in MQTT topics and Prometheus labels: letters, digits and . _ : - only."""

Counter = Annotated[int, Strict(), Field(ge=0)]
Ratio = Annotated[float, Strict(), Field(ge=0.0, le=1.0)]
Flag = Annotated[bool, Strict()]
"""Booleans are ``true`` or ``false``; ``1`` or ``"yes"`` are refused as the wrong type."""
Number = Annotated[float, Strict()]
"""A JSON number (integer or decimal); a string such as ``"12"`` is refused."""
VersionString = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class TelemetryModel(BaseModel):
    """Base of every part of a telemetry message.

    Unknown fields are ignored so that producers can send more than this version knows;
    numbers and flags are strict (``"12"`` is not a number, ``1`` is not ``true``), times are
    RFC 3339 strings; rejected input is never echoed in error messages, because it may carry
    card data.
    """

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        use_attribute_docstrings=True,
    )
