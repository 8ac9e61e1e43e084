"""Who may call the bridge: bearer tokens and basic-auth users from the settings."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CHALLENGE = 'Bearer realm="posfleet-tickets", Basic realm="posfleet-tickets"'


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a basic-auth user name, or ``token`` for a bearer token."""

    name: str


class Authenticator:
    """Checks an ``Authorization`` header in constant time per credential."""

    def __init__(self, bearer_tokens: Sequence[str], users: Mapping[str, str]) -> None:
        self._tokens = [token.encode() for token in bearer_tokens if token]
        self._users = {user: password.encode() for user, password in users.items()}

    @property
    def configured(self) -> bool:
        return bool(self._tokens or self._users)

    def check(self, header: str | None) -> Principal | None:
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "bearer":
            given = value.encode()
            matched = False
            for token in self._tokens:
                matched |= hmac.compare_digest(given, token)
            return Principal("token") if matched else None
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            user, sep, password = decoded.partition(":")
            expected = self._users.get(user)
            if sep and expected is not None and hmac.compare_digest(password.encode(), expected):
                return Principal(user)
        return None
