"""Users, sessions and API tokens of the web app, in SQL (SQLite or PostgreSQL).

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended
profile). Session ids and API tokens are random (256 bits) and only their hashes are
stored: a copy of the database opens no session and no API. Roles: ``it`` sees the whole
fleet; ``merchant`` is bound to one merchant id and sees only that merchant's data.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from posfleet.alerts.bridge.database import READ_ONLY, open_engine
from posfleet.alerts.bridge.schema import UtcDateTime

Role = Literal["it", "merchant"]
ROLES: Final = ("it", "merchant")
USERNAME_PATTERN: Final = r"^[A-Za-z0-9._@-]{1,100}$"
MIN_PASSWORD_LENGTH: Final = 12

metadata = MetaData()

web_users = Table(
    "web_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("merchant_id", String(100)),
    Column("created_at", UtcDateTime, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)
Index("ix_web_sessions_expires", web_sessions.c.expires_at)

web_api_tokens = Table(
    "web_api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
)

TOKEN_PREFIX: Final = "pfw_"
"""API tokens start with this, so secret scanners and people recognise them."""


class AccountError(ValueError):
    """A user or token that cannot be created; the message names the field."""


@dataclass(frozen=True, slots=True)
class User:
    """A signed-in user: who, and what they may see."""

    id: int
    username: str
    role: Role
    merchant_id: str | None

    @property
    def is_it(self) -> bool:
        return self.role == "it"


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf_token: str


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def validate_user(username: str, role: str, merchant: str | None) -> None:
    """Raise AccountError naming the field when a user's attributes do not fit."""
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise AccountError(
            "username: 1 to 100 letters, digits or . _ @ - (no spaces)"
        )
    if role not in ROLES:
        raise AccountError(f"role: {role!r} is not one of it, merchant")
    if role == "merchant" and not merchant:
        raise AccountError("merchant: a merchant user needs the merchant id it may see")
    if role == "it" and merchant:
        raise AccountError("merchant: an it user sees every merchant; give no merchant")


class AccountStore:
    """Users, sessions and tokens (blocking SQLAlchemy Core; call from a thread)."""

    def __init__(
        self,
        engine: Engine,
        *,
        session_secret: bytes | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.engine = engine
        self._read = engine.execution_options(**{READ_ONLY: True})
        self._secret = session_secret or secrets.token_bytes(32)
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self._lock = threading.Lock()
        self._dummy: str | None = None

    @property
    def _dummy_hash(self) -> str:
        """Verified against when the user is unknown: it costs the same time as a real
        check, so response times do not tell which user names exist."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    @classmethod
    def open(cls, database: str, *, hasher: PasswordHasher | None = None) -> AccountStore:
        store = cls(open_engine(database), hasher=hasher)
        store.create_schema()
        return store

    def create_schema(self) -> None:
        with self._lock, self.engine.begin() as conn:
            metadata.create_all(conn)

    def dispose(self) -> None:
        self.engine.dispose()

    # --- users ------------------------------------------------------------------------------

    def add_user(
        self, username: str, password: str, role: str, merchant: str | None = None
    ) -> User:
        """Create a user; AccountError if the name is taken or an attribute is wrong."""
        validate_user(username, role, merchant)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        hashed = self._hasher.hash(password)
        try:
            with self._lock, self.engine.begin() as conn:
                user_id = conn.execute(
                    insert(web_users).returning(web_users.c.id),
                    {
                        "username": username,
                        "password_hash": hashed,
                        "role": role,
                        "merchant_id": merchant if role == "merchant" else None,
                        "created_at": self._clock(),
                    },
                ).scalar_one()
        except IntegrityError:
            raise AccountError(f"username: {username!r} exists already") from None
        return User(user_id, username, role, merchant if role == "merchant" else None)  # type: ignore[arg-type]

    def set_password(self, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        with self._lock, self.engine.begin() as conn:
            changed = conn.execute(
                update(web_users)
                .where(web_users.c.username == username)
                .values(password_hash=self._hasher.hash(password))
            ).rowcount
        if not changed:
            raise AccountError(f"username: no user {username!r}")

    def get_user(self, username: str) -> User | None:
        with self._read.connect() as conn:
            row = conn.execute(select(web_users).where(web_users.c.username == username)).first()
        return None if row is None else User(row.id, row.username, row.role, row.merchant_id)

    def list_users(self) -> list[User]:
        with self._read.connect() as conn:
            rows = conn.execute(select(web_users).order_by(web_users.c.username)).all()
        return [User(r.id, r.username, r.role, r.merchant_id) for r in rows]

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches, else None (same cost for unknown names)."""
        with self._read.connect() as conn:
            row = conn.execute(select(web_users).where(web_users.c.username == username)).first()
        stored = row.password_hash if row is not None else self._dummy_hash
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self._hasher.check_needs_rehash(stored):
            with self._lock, self.engine.begin() as conn:
                conn.execute(
                    update(web_users)
                    .where(web_users.c.id == row.id)
                    .values(password_hash=self._hasher.hash(password))
                )
        return User(row.id, row.username, row.role, row.merchant_id)

    # --- sessions ---------------------------------------------------------------------------

    def _session_hash(self, session_id: str) -> str:
        return hmac.new(self._secret, session_id.encode(), hashlib.sha256).hexdigest()

    def create_session(self, user: User, max_age: timedelta) -> tuple[str, str]:
        """A new session for ``user``: (session id for the cookie, CSRF token)."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock, self.engine.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
            conn.execute(
                insert(web_sessions),
                {
                    "id_hash": self._session_hash(session_id),
                    "user_id": user.id,
                    "csrf_token": csrf,
                    "created_at": now,
                    "last_seen_at": now,
                    "expires_at": now + max_age,
                },
            )
        return session_id, csrf

    def session(self, session_id: str, idle: timedelta) -> Session | None:
        """The live session with this id (its idle clock restarted), or None."""
        now = self._clock()
        key = self._session_hash(session_id)
        query = (
            select(web_sessions, web_users)
            .join(web_users, web_users.c.id == web_sessions.c.user_id)
            .where(web_sessions.c.id_hash == key)
        )
        with self._read.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.expires_at <= now or row.last_seen_at + idle <= now:
            return None
        if now - row.last_seen_at > timedelta(seconds=60):
            with self._lock, self.engine.begin() as conn:
                conn.execute(
                    update(web_sessions)
                    .where(web_sessions.c.id_hash == key)
                    .values(last_seen_at=now)
                )
        return Session(User(row.user_id, row.username, row.role, row.merchant_id), row.csrf_token)

    def end_session(self, session_id: str) -> None:
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                delete(web_sessions).where(web_sessions.c.id_hash == self._session_hash(session_id))
            )

    # --- API tokens -------------------------------------------------------------------------

    def create_token(self, user: User, name: str) -> str:
        """A new API token for ``user`` (shown once; only its hash is kept)."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise AccountError("name: 1 to 100 characters")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                insert(web_api_tokens),
                {
                    "user_id": user.id,
                    "token_hash": _sha256(token),
                    "name": name,
                    "created_at": self._clock(),
                },
            )
        return token

    def tokens(self, user: User) -> list[ApiToken]:
        with self._read.connect() as conn:
            rows = conn.execute(
                select(web_api_tokens)
                .where(web_api_tokens.c.user_id == user.id)
                .order_by(web_api_tokens.c.id)
            ).all()
        return [ApiToken(r.id, r.name, r.created_at, r.last_used_at) for r in rows]

    def revoke_token(self, user: User, token_id: int) -> bool:
        with self._lock, self.engine.begin() as conn:
            deleted = conn.execute(
                delete(web_api_tokens).where(
                    web_api_tokens.c.id == token_id, web_api_tokens.c.user_id == user.id
                )
            ).rowcount
        return bool(deleted)

    def token_user(self, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        query = (
            select(web_api_tokens.c.id, web_api_tokens.c.last_used_at, web_users)
            .join(web_users, web_users.c.id == web_api_tokens.c.user_id)
            .where(web_api_tokens.c.token_hash == _sha256(token))
        )
        with self._read.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        now = self._clock()
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
            with self._lock, self.engine.begin() as conn:
                conn.execute(
                    update(web_api_tokens)
                    .where(web_api_tokens.c.id == row.id)
                    .values(last_used_at=now)
                )
        return User(row[2], row.username, row.role, row.merchant_id)


def ensure_user(
    database_url: str,
    username: str,
    password: str,
    role: str,
    merchant: str | None = None,
    *,
    hasher: PasswordHasher | None = None,
) -> User:
    """Create the user, or set its password when it exists with the same role and merchant
    (for the demo and deployment scripts; safe to call on every start)."""
    store = AccountStore.open(database_url, hasher=hasher)
    try:
        existing = store.get_user(username)
        if existing is None:
            return store.add_user(username, password, role, merchant)
        if existing.role != role or existing.merchant_id != (merchant or None):
            raise AccountError(
                f"username: {username!r} exists with role {existing.role} and merchant "
                f"{existing.merchant_id}; not changed"
            )
        store.set_password(username, password)
        return existing
    finally:
        store.dispose()
