"""Sending one body of line protocol to InfluxDB: v1 ``/write`` or v2 ``/api/v2/write``.

A transport makes exactly one attempt and reports what the server said; deciding what to
do about it (retry, split, drop) is :mod:`delivery`'s job, so both endpoints behave alike.
"""

from __future__ import annotations

import base64
import email.utils
import time
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from yarl import URL

from posfleet.config.models import InfluxDbSettings


@dataclass(frozen=True, slots=True)
class WriteResponse:
    """The server's answer to one write."""

    status: int
    body: str = ""
    retry_after_seconds: float | None = None
    """The ``Retry-After`` header in seconds, when the server sent one."""


class TransportError(Exception):
    """The write did not reach the server or got no answer (refused, reset, timed out)."""


class Transport(Protocol):
    """One write attempt at a time."""

    @property
    def endpoint(self) -> str:
        """Where writes go, for log messages (never with credentials)."""
        ...

    async def write(self, body: bytes) -> WriteResponse: ...

    async def close(self) -> None: ...


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


class V1Transport:
    """POST /write?db=&rp=&precision=ns with aiohttp (InfluxDB 1.x, 2.x compat, 3.x)."""

    def __init__(
        self, settings: InfluxDbSettings, *, session: aiohttp.ClientSession | None = None
    ) -> None:
        base = URL(settings.url.rstrip("/"))
        query = {"db": settings.database, "precision": "ns"}
        if settings.retention_policy:
            query["rp"] = settings.retention_policy
        self._url = (base / "write").with_query(query)
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else ""
            pair = f"{settings.username}:{password}".encode()
            # A header, not u=/p= in the URL, so credentials never show up in logs.
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout_seconds)
        self._session = session
        self._owns_session = session is None

    @property
    def endpoint(self) -> str:
        return str(self._url)

    async def write(self, body: bytes) -> WriteResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                self._url,
                data=body,
                timeout=self._timeout,
                headers=self._headers,
            ) as response:
                text = await response.text(errors="replace")
                return WriteResponse(
                    response.status, text, parse_retry_after(response.headers.get("Retry-After"))
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None


class V2Transport:
    """POST /api/v2/write?org=&bucket=&precision=ns through influxdb-client's async API."""

    def __init__(self, settings: InfluxDbSettings) -> None:
        # The settings model refuses api v2 without both.
        assert settings.org is not None
        assert settings.bucket is not None
        self._settings = settings
        self._org = settings.org
        self._bucket = settings.bucket
        self._client: Any = None
        self._write_api: Any = None

    @property
    def endpoint(self) -> str:
        return f"{self._settings.url.rstrip('/')}/api/v2/write (bucket {self._bucket})"

    def _connect(self) -> None:
        # Imported here: the client pulls in reactivex and more, only needed with api v2.
        from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

        # An empty token sends no Authorization header (servers without auth).
        token = self._settings.token.get_secret_value() if self._settings.token else ""
        self._client = InfluxDBClientAsync(
            url=self._settings.url,
            token=token,
            org=self._org,
            timeout=int(self._settings.timeout_seconds * 1000),
        )
        self._write_api = self._client.write_api()

    async def write(self, body: bytes) -> WriteResponse:
        from influxdb_client.rest import ApiException

        if self._client is None:
            self._connect()
        try:
            await self._write_api.write(bucket=self._bucket, org=self._org, record=body)
        except ApiException as exc:
            headers: Any = exc.headers or {}
            retry_after = next(
                (str(v) for k, v in headers.items() if str(k).lower() == "retry-after"), None
            )
            body_text = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else ""
            if isinstance(exc.body, str):
                body_text = exc.body
            return WriteResponse(
                int(exc.status or 0),
                body_text or str(exc.reason or ""),
                parse_retry_after(retry_after),
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return WriteResponse(204)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = None


def transport_for(settings: InfluxDbSettings) -> Transport:
    """The transport the settings ask for."""
    if settings.api == "v2":
        return V2Transport(settings)
    return V1Transport(settings)


__all__ = [
    "Transport",
    "TransportError",
    "V1Transport",
    "V2Transport",
    "WriteResponse",
    "parse_retry_after",
    "transport_for",
]
