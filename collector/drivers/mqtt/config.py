"""Connection settings of the mqtt driver."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class MqttPushSettings(BaseModel):
    """A terminal that pushes to the broker named in the ``mqtt`` section.

    The terminal publishes to ``<prefix>/<merchant>/<store>/<terminal>/status`` and
    ``.../transactions``; nothing needs setting unless it uses another topic.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)

    topic: Annotated[str, Field(min_length=1)] | None = None
    """Status topic if the terminal does not use the standard layout."""
    stale_after_seconds: Annotated[float, Field(gt=0)] = 120.0
    """A terminal that has pushed nothing for this long counts as offline."""
