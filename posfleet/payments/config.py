"""The ``payments`` section: response-code tables per acquirer, charged-but-failed cases,
reconciliation files and operator findings.

Kept apart from ``posfleet.config.models`` (which imports :class:`PaymentsSettings`) so the
payments package owns its settings; this module imports nothing from posfleet but the
cause groups, to stay import-safe.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from posfleet.payments.groups import CauseGroup

Seconds = Annotated[float, Field(gt=0)]
ResponseCode = Annotated[str, Field(pattern=r"^[0-9A-Za-z]{2,3}$")]
SettlementStatus = Literal["settled", "reversed", "refunded", "not_settled"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


class AcquirerTable(_Section):
    """The response-code table of one acquirer (``merchants[].acquirer`` names it)."""

    table: str = "iso8583"
    """A built-in table (iso8583, cup) or the path of a table file (see docs/payments.md)."""
    overrides: dict[ResponseCode, CauseGroup] = Field(default_factory=dict)
    """Codes whose group differs on this acquirer's network, e.g. {"97": terminal_config}."""


class ReconcileColumns(_Section):
    """Which CSV column holds which value (header names, compared case-insensitively)."""

    terminal_id: str = "terminal_id"
    """The terminal id as posfleet knows it (required)."""
    stan: str | None = "stan"
    """System trace audit number, six digits."""
    rrn: str | None = "rrn"
    """Retrieval reference number, twelve characters."""
    transaction_id: str | None = "transaction_id"
    """The terminal's transaction id, when the acquirer passes it through."""
    amount: str | None = "amount"
    """The amount: in minor units when ``amount_in_minor_units``, else a decimal (12.50)."""
    currency: str | None = "currency"
    """ISO 4217 alphabetic code."""
    status: str = "status"
    """What happened to the sale (required); values mapped by ``status_values``."""
    occurred_at: str | None = "occurred_at"
    """When the sale happened (RFC 3339, or YYYY-MM-DD HH:MM:SS in UTC)."""


def _default_status_values() -> dict[str, SettlementStatus]:
    return {
        "settled": "settled",
        "reversed": "reversed",
        "refunded": "refunded",
        "not_settled": "not_settled",
        "voided": "reversed",
        "declined": "not_settled",
    }


class ReconcileSettings(_Section):
    """How ``posfleet reconcile FILE`` reads an acquirer's settlement or reconciliation CSV."""

    columns: ReconcileColumns = ReconcileColumns()
    """Column names per value."""
    status_values: dict[str, SettlementStatus] = Field(default_factory=_default_status_values)
    """The file's status words (case-insensitive) -> settled, reversed, refunded,
    not_settled."""
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    """Field separator."""
    amount_in_minor_units: bool = False
    """True when the amount column holds cents/fen (1250), False for decimals (12.50)."""
    pan_exempt_columns: list[str] = Field(default_factory=list)
    """Unmapped columns whose long digit runs are ids, not card numbers (e.g. a merchant id);
    every other cell is searched for card numbers and track data."""

    @field_validator("status_values")
    @classmethod
    def _lower_keys(cls, values: dict[str, SettlementStatus]) -> dict[str, SettlementStatus]:
        return {key.strip().lower(): value for key, value in values.items()}


class TrainingSettings(_Section):
    """When an operator's input-error rate earns a "training recommended" finding."""

    window_days: Annotated[int, Field(ge=1, le=90)] = 7
    """Days of attempts compared."""
    min_attempts: Annotated[int, Field(ge=1)] = 30
    """Attempts an operator needs in the window before being compared."""
    min_input_errors: Annotated[int, Field(ge=1)] = 5
    """Input errors an operator needs in the window before being flagged."""
    peer_ratio: Annotated[float, Field(gt=1)] = 2.5
    """Flag when the operator's rate is this many times the rate of the store's other
    operators together."""


class PaymentsSettings(_Section):
    """Cause classification, charged-but-failed cases, reconciliation and findings."""

    default_table: str = "iso8583"
    """Table for merchants without an acquirer, or whose acquirer is not listed."""
    acquirers: dict[str, AcquirerTable] = Field(default_factory=dict)
    """Acquirer name -> its table and overrides, e.g. {unionpay: {table: cup}}."""
    detect_cases_in: Literal["ingest", "collector"] | None = None
    """Which process runs charged-but-failed detection: ``ingest`` for a fleet of several
    sites, ``collector`` for a single site without central ingest. Exactly one process per
    case database may run it, so it is off until you choose."""
    database: str = "/var/lib/posfleet/payments.sqlite3"
    """Case store: a SQLite file path, or a PostgreSQL URL."""
    reversal_grace_seconds: Seconds = 900.0
    """How long a timed-out or failed sale may wait for a confirmed reversal before it
    becomes a charged-but-failed case."""
    duplicate_window_seconds: Seconds = 600.0
    """An approved sale with the same masked card and amount this soon after a suspect sale
    is a retry by the staff: the customer may pay twice."""
    index_max_entries: Annotated[int, Field(ge=100)] = 200_000
    """Sales waiting for their reversal kept in memory; beyond it the oldest become cases
    early (logged and counted), so memory stays bounded."""
    index_expiry_seconds: Seconds = 172_800.0
    """Memory of recent suspect sales and terminal activity is dropped after this long."""
    sweep_interval_seconds: Seconds = 30.0
    """How often deadlines and undelivered tickets are looked at."""
    tickets_url: str | None = None
    """Base URL of the ticket bridge (http://host:9466); absent: write cases straight into
    the ticket store of the ``tickets`` section."""
    tickets_token: SecretStr | None = None
    """Bearer token for the ticket bridge (better: POSFLEET_PAYMENTS__TICKETS_TOKEN)."""
    public_url: str = ""
    """Base URL shown in tickets' runbook links (empty: relative docs/ links)."""
    terminal_metrics_max_terminals: Annotated[int, Field(ge=0)] = 2_000
    """Per-terminal Prometheus series only while the fleet has at most this many terminals
    (stores are always exported); InfluxDB always has every attempt."""
    reconcile: ReconcileSettings = ReconcileSettings()
    """Reading acquirer settlement or reconciliation CSV files."""
    training: TrainingSettings = TrainingSettings()
    """Operator input-error findings."""

    @field_validator("tickets_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("tickets_url must start with http:// or https://")
        return url.rstrip("/") if url else url
