"""Connection settings of the http driver."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class HttpSettings(BaseModel):
    """A terminal's status endpoint returning the telemetry status snapshot as JSON."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)

    url: HttpUrl
    """Status endpoint, e.g. https://10.1.2.3:8443/posfleet/v1/status."""
    token_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    """Name of the environment variable that holds the bearer token (never the token)."""
    verify_tls: bool = True
    """Verify the terminal's certificate."""
    ca_file: str | None = None
    """CA bundle for terminals with a private CA."""
