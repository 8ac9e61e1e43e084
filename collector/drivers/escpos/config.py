"""Connection settings of the escpos driver."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class EscposSettings(BaseModel):
    """A receipt printer on a serial port, a USB serial adapter or a serial server."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)

    port: Annotated[str, Field(min_length=1)]
    """Device path (/dev/ttyUSB0) or pyserial URL (socket://host:port, rfc2217://host:port)."""
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = 9600
    """Line speed; must match the printer's DIP switches or memory switch."""
    parity: Literal["none", "even", "odd"] = "none"
    """Parity bit."""
    response_timeout_seconds: Annotated[float, Field(gt=0, le=10)] = 0.5
    """How long to wait for each status byte before the printer counts as not answering."""
    automatic_status_back: bool = False
    """Enable ASB (GS a) so the printer reports changes without being asked."""
