"""Settings of the web app (``web:``), kept import-safe (pydantic only) so
``posfleet.config.models`` can import them without loading FastAPI."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

Language = Literal["en", "zh-CN"]


class GrafanaDashboards(BaseModel):
    """Uids of the Grafana dashboards the IT pages link to."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)

    fleet: str = "posfleet-fleet"
    """The fleet overview dashboard."""
    store: str = "posfleet-store"
    """The per-store dashboard (variable ``store``)."""
    terminal: str = "posfleet-terminal"
    """The per-terminal dashboard (variable ``terminal``)."""


class WebSettings(BaseModel):
    """The web app (``posfleet web serve``): merchants' status pages, IT's fleet view and
    ticket queue, and the JSON API behind them."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)

    listen: str = "127.0.0.1:9467"
    """Address the web app serves on (host:port); put a TLS proxy in front of it."""
    database: str | None = None
    """Status store the pages read (SQLite path or SQLAlchemy URL); default: the
    ``status_store.database`` setting."""
    accounts_database: str | None = None
    """Where users, sessions and API tokens are kept; default: the status store database.
    Set POSFLEET_WEB__ACCOUNTS_DATABASE when the URL holds a password."""
    cases_database: str | None = None
    """Charged-but-failed case store (read only); default: ``payments.database``."""
    tickets_url: str | None = None
    """Base URL of the ticket bridge (e.g. http://127.0.0.1:9466); absent: no tickets shown."""
    tickets_token: SecretStr | None = None
    """Bearer token for the ticket bridge; set POSFLEET_WEB__TICKETS_TOKEN."""
    tickets_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    """Time one call to the ticket bridge may take before the page shows tickets as
    unavailable."""
    grafana_url: str | None = None
    """Base URL of Grafana; when set, IT pages link into the dashboards below."""
    grafana_dashboards: GrafanaDashboards = GrafanaDashboards()
    """Dashboard uids for the Grafana links."""
    session_secret: SecretStr | None = None
    """Key that session ids are hashed with before they are stored; set
    POSFLEET_WEB__SESSION_SECRET. Absent: a random key per start (everyone signs in again
    after a restart)."""
    session_max_age_seconds: Annotated[float, Field(gt=0)] = 43_200.0
    """A session ends this long after sign-in."""
    session_idle_seconds: Annotated[float, Field(gt=0)] = 3_600.0
    """A session ends after this long without a request."""
    cookie_secure: bool = True
    """Send cookies only over HTTPS (turn off only for http://127.0.0.1 demos)."""
    login_max_failures_per_username: Annotated[int, Field(ge=1)] = 5
    """Failed sign-ins for one user name within ``login_window_seconds`` before further
    attempts for it are refused (429) until the window has passed."""
    login_max_failures_per_address: Annotated[int, Field(ge=1)] = 20
    """Failed sign-ins from one client address within ``login_window_seconds`` before
    further attempts from it are refused (429)."""
    login_window_seconds: Annotated[float, Field(gt=0)] = 900.0
    """Window of the sign-in rate limits."""
    stale_after_seconds: Annotated[float, Field(gt=0)] = 300.0
    """A terminal whose last snapshot arrived longer ago than this is shown as offline."""
    default_language: Language = "en"
    """Language when neither the language switch nor the browser picks one."""

    @field_validator("tickets_url", "grafana_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url.rstrip("/")
