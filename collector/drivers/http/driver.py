"""Read a terminal's status snapshot from its HTTP endpoint.

One aiohttp session is shared by every http source (``DriverContext.resources["http_session"]``)
so connections are pooled and kept alive. The body is read in chunks and refused as soon as
it passes ``max_payload_bytes``, whatever Content-Length says.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

import aiohttp

from posfleet.collector.driver import DriverContext, DriverError, Reading
from posfleet.collector.drivers.http.config import HttpSettings
from posfleet.collector.inputs import (
    TOO_LARGE,
    WRONG_TERMINAL,
    components,
    device_identity,
    parse_status,
)

SESSION_RESOURCE: Final = "http_session"
ENVIRON_RESOURCE: Final = "environ"
UNAUTHORIZED: Final = "unauthorized"
UNREACHABLE: Final = "unreachable"
_CHUNK: Final = 65_536


def tls_setting(settings: HttpSettings) -> ssl.SSLContext | bool:
    """What aiohttp's ``ssl=`` gets: default verification, none, or a private CA."""
    if not settings.verify_tls:
        return False
    if settings.ca_file:
        return _private_ca_context(settings.ca_file)
    return True


@cache
def _private_ca_context(ca_file: str) -> ssl.SSLContext:
    # One context per CA file, not per terminal: each context holds the parsed bundle.
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"ca_file {ca_file}: {exc.strerror or exc}") from None


class HttpDriver:
    """GETs the status URL with a bearer token and checks the snapshot it returns."""

    def __init__(
        self,
        settings: HttpSettings,
        context: DriverContext,
        session: aiohttp.ClientSession,
        environ: Mapping[str, str] | None = None,
        tls: ssl.SSLContext | bool = True,
    ) -> None:
        self._url = str(settings.url)
        self._context = context
        self._session = session
        self._tls = tls
        self._headers: dict[str, str] = {"Accept": "application/json"}
        self._missing_token: str | None = None
        if settings.token_env:
            token = (os.environ if environ is None else environ).get(settings.token_env)
            if token:
                self._headers["Authorization"] = f"Bearer {token}"
            else:
                self._missing_token = settings.token_env

    async def _get_body(self) -> bytes:
        limit = self._context.max_payload_bytes
        async with self._session.get(
            self._url, headers=self._headers, ssl=self._tls, allow_redirects=False
        ) as response:
            if response.status in (401, 403):
                raise DriverError(
                    UNAUTHORIZED, f"HTTP {response.status}: the terminal refused the token"
                )
            if response.status != 200:
                raise DriverError(
                    f"http_{response.status}", f"HTTP {response.status} {response.reason or ''}"
                )
            chunks: list[bytes] = []
            size = 0
            while chunk := await response.content.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise DriverError(TOO_LARGE, f"body longer than the {limit} bytes allowed")
                chunks.append(chunk)
            return b"".join(chunks)

    async def read(self) -> Reading:
        if self._missing_token:
            raise DriverError(
                UNAUTHORIZED, f"environment variable {self._missing_token} (token_env) is not set"
            )
        try:
            body = await self._get_body()
        except aiohttp.ClientPayloadError as exc:
            raise DriverError("malformed", f"body cut off: {exc}") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise DriverError(UNREACHABLE, f"{self._url}: {exc or type(exc).__name__}") from None
        snapshot = parse_status(body, self._context.max_payload_bytes)
        if snapshot.terminal_id != self._context.terminal_id:
            raise DriverError(
                WRONG_TERMINAL,
                f"terminal_id: the body is from '{snapshot.terminal_id}', "
                f"expected '{self._context.terminal_id}'",
            )
        return Reading(
            observed_at=snapshot.observed_at,
            parts=components(snapshot),
            device=device_identity(snapshot),
        )


def create(settings: Any, context: DriverContext) -> HttpDriver:
    """The plug-in factory: needs ``resources["http_session"]`` (an aiohttp session)."""
    if not isinstance(settings, HttpSettings):
        settings = HttpSettings.model_validate(settings)
    session = context.resources.get(SESSION_RESOURCE)
    if not isinstance(session, aiohttp.ClientSession):
        raise TypeError(f"the http driver needs resources[{SESSION_RESOURCE!r}]")
    environ = context.resources.get(ENVIRON_RESOURCE)
    return HttpDriver(settings, context, session, environ, tls_setting(settings))
