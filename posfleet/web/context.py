"""What the web app's routes work with, assembled from a configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from argon2 import PasswordHasher

from posfleet.alerts.bridge.database import open_engine
from posfleet.config.models import PosfleetConfig
from posfleet.exporters.status_store.config import StatusStoreSettings
from posfleet.web.accounts import AccountStore
from posfleet.web.cases import CaseReader
from posfleet.web.config import WebSettings
from posfleet.web.data import StatusReader
from posfleet.web.metrics import WebMetrics
from posfleet.web.present import Names
from posfleet.web.security import LoginLimiter
from posfleet.web.tickets import TicketsClient

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def status_database(config: PosfleetConfig) -> str:
    """The status store the web app reads: ``web.database``, else ``status_store.database``."""
    if config.web.database:
        return config.web.database
    return (config.status_store or StatusStoreSettings()).database


@dataclass
class WebContext:
    settings: WebSettings
    status: StatusReader
    accounts: AccountStore
    cases: CaseReader | None
    tickets: TicketsClient
    names: Names
    metrics: WebMetrics
    limiter: LoginLimiter
    clock: Clock = _utc_now

    @classmethod
    def from_config(
        cls,
        config: PosfleetConfig,
        *,
        clock: Clock = _utc_now,
        tickets_transport: httpx.AsyncBaseTransport | None = None,
        password_hasher: PasswordHasher | None = None,
    ) -> WebContext:
        """Open the databases (blocking) and create the web app's own tables."""
        settings = config.web
        database = status_database(config)
        status = StatusReader(
            open_engine(database), timedelta(seconds=settings.stale_after_seconds), clock
        )
        status.create_schema()
        secret = settings.session_secret.get_secret_value().encode() if (
            settings.session_secret
        ) else None
        accounts = AccountStore(
            open_engine(settings.accounts_database or database),
            session_secret=secret,
            clock=clock,
            hasher=password_hasher,
        )
        accounts.create_schema()
        cases = CaseReader(open_engine(settings.cases_database or config.payments.database))
        cases.create_schema()
        token = settings.tickets_token.get_secret_value() if settings.tickets_token else None
        return cls(
            settings=settings,
            status=status,
            accounts=accounts,
            cases=cases,
            tickets=TicketsClient(
                settings.tickets_url,
                token,
                timeout_seconds=settings.tickets_timeout_seconds,
                transport=tickets_transport,
            ),
            names=Names.of(config),
            metrics=WebMetrics(),
            limiter=LoginLimiter(
                settings.login_max_failures_per_username,
                settings.login_max_failures_per_address,
                settings.login_window_seconds,
            ),
            clock=clock,
        )

    async def aclose(self) -> None:
        await self.tickets.aclose()
        self.status.engine.dispose()
        self.accounts.dispose()
        if self.cases is not None:
            self.cases.engine.dispose()
