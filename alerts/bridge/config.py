"""Settings of the systems the ticket bridge pushes tickets to, one section per system.

Kept apart from ``posfleet.config.models`` (which imports them into ``TicketsSettings``) so
the bridge owns its targets; this module imports nothing from posfleet to stay import-safe.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

Severity = Literal["critical", "warning", "info"]
Team = Literal["merchant", "technician", "it"]
Timeout = Annotated[float, Field(gt=0, le=300)]

_REDMINE_PRIORITIES: dict[Severity, int] = {"critical": 4, "warning": 3, "info": 2}
_JIRA_PRIORITIES: dict[Severity, str] = {"critical": "Highest", "warning": "High", "info": "Low"}


class _TargetModel(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)

    url: str
    """Base URL of the system."""
    teams: list[Team] = Field(default_factory=list)
    """Teams whose tickets go to this system; empty means every team."""
    timeout_seconds: Timeout = 10.0
    """Time one call may take; a call that times out is retried with the same
    idempotency key, and the system is searched for the ticket before creating it again."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return url.rstrip("/")


class WebhookTargetSettings(_TargetModel):
    """A generic HTTP receiver: every ticket change is POSTed as JSON with an
    ``Idempotency-Key`` header, so the receiver can drop repeats."""

    bearer_token: SecretStr | None = None
    """Token sent as ``Authorization: Bearer``; set POSFLEET_TICKETS__WEBHOOK__BEARER_TOKEN."""


class RedmineTargetSettings(_TargetModel):
    """Redmine through its REST API (issues.json); the REST API must be enabled."""

    api_key: SecretStr | None = None
    """API key of the bridge's Redmine user; set POSFLEET_TICKETS__REDMINE__API_KEY."""
    project: str
    """Project identifier (or numeric id) the issues are created in."""
    tracker_id: int | None = None
    """Tracker of new issues; the project's default when absent."""
    key_custom_field_id: int | None = None
    """Issue custom field (string, filterable) that holds the posfleet ticket tag; absent:
    the tag is searched in the subject, where it is always written as ``[tag]``."""
    closed_status_id: int = 5
    """Status set when the ticket closes (Redmine's default data: 5 = Closed)."""
    reopened_status_id: int = 1
    """Status set when the ticket reopens (Redmine's default data: 1 = New)."""
    priority_ids: dict[Severity, int] = Field(
        default_factory=lambda: dict(_REDMINE_PRIORITIES)
    )
    """Redmine priority id per alert severity (default data: 2 Normal, 3 High, 4 Urgent)."""


class JiraTargetSettings(_TargetModel):
    """Jira (Server/Data Center or Cloud) through REST API v2."""

    username: str | None = None
    """User (Cloud: the account e-mail) for basic auth with ``api_token``; absent: the
    token is sent as a bearer token (Server/Data Center personal access token)."""
    api_token: SecretStr | None = None
    """API token or password; set POSFLEET_TICKETS__JIRA__API_TOKEN."""
    project_key: str
    """Project key, e.g. OPS."""
    issue_type: str = "Task"
    """Issue type of new issues."""
    priorities: dict[Severity, str] = Field(default_factory=lambda: dict(_JIRA_PRIORITIES))
    """Jira priority name per alert severity."""
    close_transition: str = "Done"
    """Name of the workflow transition that closes an issue."""
    reopen_transition: str = "To Do"
    """Name of the workflow transition that reopens an issue."""


TargetKind = Literal["webhook", "redmine", "jira"]
