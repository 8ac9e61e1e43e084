"""One remote-write HTTP request and what its answer means for the data.

Remote-write 1.0: 2xx means stored; 5xx and 429 mean try again later (after ``Retry-After``
when the receiver gives one); any other 4xx means the receiver will never take this data,
so it is dropped (counted and logged with the receiver's reason).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Final

import aiohttp
from pydantic import SecretStr

from posfleet import __version__

HEADERS: Final = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": f"posfleet-remote-write/{__version__}",
}
_REASON_LIMIT: Final = 300


class Verdict(Enum):
    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Answer:
    """How one attempt went."""

    verdict: Verdict
    reason: str
    """``http_5xx``, ``http_429``, ``connection``, ``timeout``, ``http_400``, ... or ``ok``."""
    detail: str = ""
    """The receiver's own words (first 300 characters of its body) or the error."""
    retry_after: float | None = None
    """Seconds the receiver asked to wait (Retry-After), if it did."""


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date; None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def auth_headers(
    username: str | None, password: SecretStr | None, bearer_token: SecretStr | None
) -> dict[str, str]:
    if bearer_token is not None:
        return {"Authorization": f"Bearer {bearer_token.get_secret_value()}"}
    if username is not None and password is not None:
        pair = f"{username}:{password.get_secret_value()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    return {}


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_seconds: float,
    now: datetime,
) -> Answer:
    """POST one compressed WriteRequest and classify the answer (never raises for I/O)."""
    try:
        async with session.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_seconds)
        ) as response:
            text = (await response.text(errors="replace"))[:_REASON_LIMIT].strip()
            status = response.status
            if 200 <= status < 300:
                return Answer(Verdict.SENT, "ok")
            if status == 429 or status >= 500:
                reason = "http_429" if status == 429 else "http_5xx"
                retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
                return Answer(Verdict.RETRY, reason, f"HTTP {status}: {text}", retry_after)
            return Answer(Verdict.REJECTED, f"http_{status}", f"HTTP {status}: {text}")
    except TimeoutError:
        return Answer(Verdict.RETRY, "timeout", f"no answer within {timeout_seconds:g} s")
    except (aiohttp.ClientError, OSError) as exc:
        return Answer(Verdict.RETRY, "connection", str(exc) or type(exc).__name__)
