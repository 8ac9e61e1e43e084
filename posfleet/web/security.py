"""Sign-in rate limits, CSRF tokens and the security headers of every answer."""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

SESSION_COOKIE: Final = "posfleet_session"
LOGIN_CSRF_COOKIE: Final = "posfleet_login_csrf"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; False when either is missing."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class LoginLimiter:
    """Failed sign-ins per user name and per client address in a sliding window.

    Kept in memory: each process of the web app counts its own (with N copies behind a
    balancer an attacker gets N times the attempts; still far from a useful guess rate
    against argon2id).
    """

    def __init__(
        self,
        per_username: int,
        per_address: int,
        window_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self._limits = {"username": per_username, "address": per_address}
        self._window = window_seconds
        self._monotonic = monotonic
        self._max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def blocked_by(self, username: str, address: str) -> str | None:
        """``username`` or ``address`` when that limit is reached, else None."""
        now = self._monotonic()
        with self._lock:
            for kind, value in (("username", username.lower()), ("address", address)):
                if len(self._recent((kind, value), now)) >= self._limits[kind]:
                    return kind
        return None

    def failed(self, username: str, address: str) -> None:
        now = self._monotonic()
        with self._lock:
            if len(self._failures) >= self._max_keys:
                # Bounded memory under a spray of made-up names: forget the oldest keys.
                for key in list(self._failures)[: self._max_keys // 10]:
                    del self._failures[key]
            for key in (("username", username.lower()), ("address", address)):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("username", username.lower()), None)
