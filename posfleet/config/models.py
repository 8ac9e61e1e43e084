"""The configuration file: fleet inventory and the settings of each component.

One YAML file describes merchants, stores (with address, region and opening hours) and
terminals (with the driver and connection settings each one needs), plus the settings of
the collector and of the outputs. Secrets never sit in the file: they come from
environment variables (``POSFLEET_<SECTION>__<FIELD>``, e.g. ``POSFLEET_MQTT__PASSWORD``),
or the file names the variable that holds them (``token_env``).
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from posfleet.alerts.bridge.config import (
    JiraTargetSettings,
    RedmineTargetSettings,
    WebhookTargetSettings,
)
from posfleet.exporters.status_store.config import StatusStoreSettings
from posfleet.payments.config import PaymentsSettings
from posfleet.telemetry.base import Identifier
from posfleet.web.config import WebSettings


class ConfigModel(BaseModel):
    """Base of every configuration section: unknown keys are errors (they are typos)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


Seconds = Annotated[float, Field(gt=0)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Address(ConfigModel):
    """Postal address, printed on tickets so a technician finds the store."""

    street: str
    """Street and number."""
    city: str
    """City."""
    postcode: str | None = None
    """Postal code."""
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "DE"
    """ISO 3166-1 alpha-2 country code."""


class OpeningHours(ConfigModel):
    """When a store is open on one set of weekdays, in the store's time zone."""

    days: list[Weekday] = Field(min_length=1)
    """Weekdays these hours apply to."""
    opens: time
    """Opening time, HH:MM."""
    closes: time
    """Closing time, HH:MM; before ``opens`` means the store closes after midnight."""


class Source(ConfigModel):
    """One way to read a terminal's status: a driver and its connection settings."""

    driver: str
    """Driver that reads this source: a built-in (escpos, http, mqtt) or a plug-in."""
    connection: dict[str, Any] = Field(default_factory=dict)
    """Driver-specific connection settings; each driver's README lists them."""
    interval_seconds: Seconds | None = None
    """Poll interval for this source; defaults to the collector's."""


class Terminal(Source):
    """A payment terminal and the primary source of its status."""

    id: Identifier
    """Terminal id, unique in the fleet; also used in MQTT topics and metric labels."""
    serial: str | None = None
    """Manufacturer's serial number."""
    model: str | None = None
    """Terminal model, e.g. A920."""
    vendor: str | None = None
    """Manufacturer, e.g. PAX."""
    extra_sources: list[Source] = Field(default_factory=list)
    """More sources merged into the same snapshot, e.g. the receipt printer on the cash
    register's serial port beside an Android terminal's own HTTP status."""


class Store(ConfigModel):
    """A store and the terminals in it."""

    id: Identifier
    """Store id, unique in the fleet."""
    merchant: Identifier
    """Id of the merchant the store belongs to (one of ``merchants``)."""
    name: str
    """Store name as staff and technicians know it."""
    region: Identifier
    """Region, for routing tickets and aggregating metrics."""
    timezone: str = "UTC"
    """IANA time zone of the store, e.g. Europe/Berlin, Asia/Shanghai."""
    address: Address | None = None
    """Postal address."""
    opening_hours: list[OpeningHours] = Field(default_factory=list)
    """Opening hours; empty means always open (alerts treat every hour as business hours)."""
    terminals: list[Terminal] = Field(default_factory=list)
    """Terminals in the store."""


class Merchant(ConfigModel):
    """A merchant (a company with one or more stores)."""

    id: Identifier
    """Merchant id, unique in the fleet."""
    name: str
    """Merchant name shown on the status page."""
    acquirer: str | None = None
    """Acquirer whose response-code table applies to this merchant's transactions."""


class CollectorSettings(ConfigModel):
    """The edge collector that polls terminals."""

    id: Identifier = "collector-1"
    """This collector's id, stamped on every snapshot it produces."""
    interval_seconds: Seconds = 15.0
    """Default poll interval per terminal."""
    jitter_ratio: Annotated[float, Field(ge=0, le=1)] = 0.1
    """Random spread of each poll, as a share of the interval, so polls do not bunch."""
    timeout_seconds: Seconds = 5.0
    """Time a single poll may take before it counts as failed."""
    max_concurrent_polls: Annotated[int, Field(ge=1)] = 256
    """Polls in flight at once."""
    backoff_max_seconds: Seconds = 300.0
    """Longest wait between polls of an unreachable terminal (backoff doubles up to it)."""
    offline_after_failures: Annotated[int, Field(ge=1)] = 3
    """Consecutive failed polls after which a terminal is marked offline."""
    max_payload_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    """Largest status payload accepted from a terminal; larger ones are refused."""
    listen: str = "127.0.0.1:9464"
    """Address of the collector's /metrics endpoint."""


class MqttSettings(ConfigModel):
    """The MQTT broker terminals push to (the store's or the central one)."""

    url: str = "mqtt://127.0.0.1:1883"
    """Broker URL: mqtt:// or mqtts:// (TLS)."""
    username: str | None = None
    """User name, if the broker requires one."""
    password: SecretStr | None = None
    """Password; set POSFLEET_MQTT__PASSWORD instead of writing it here."""
    ca_file: str | None = None
    """CA bundle to verify the broker's certificate (mqtts)."""
    topic_prefix: str = "posfleet/v1"
    """Prefix of every posfleet topic: <prefix>/<merchant>/<store>/<terminal>/status."""
    client_id: str | None = None
    """MQTT client id; defaults to the collector id."""


class InfluxDbSettings(ConfigModel):
    """Where snapshots and transactions are written for history."""

    url: str = "http://127.0.0.1:8086"
    """InfluxDB base URL."""
    api: Literal["v1", "v2"] = "v1"
    """v1: /write with database and retention policy (InfluxDB 1.x, 2.x compat, 3.x);
    v2: /api/v2/write with org, bucket and token."""
    database: str = "posfleet"
    """Database (v1)."""
    retention_policy: str | None = None
    """Retention policy (v1); the database default when absent."""
    username: str | None = None
    """User (v1)."""
    password: SecretStr | None = None
    """Password (v1); set POSFLEET_INFLUXDB__PASSWORD."""
    org: str | None = None
    """Organisation (v2)."""
    bucket: str | None = None
    """Bucket (v2)."""
    token: SecretStr | None = None
    """API token (v2); set POSFLEET_INFLUXDB__TOKEN."""
    batch_size: Annotated[int, Field(ge=1, le=50_000)] = 5_000
    """Points per write request."""
    flush_interval_seconds: Seconds = 1.0
    """Longest time a point waits for its batch to fill."""
    timeout_seconds: Seconds = 10.0
    """Time one write request may take before it counts as failed (and is retried)."""
    retry_max_seconds: Seconds = 30.0
    """Longest wait between retries; the wait doubles from 0.5 s up to it, with jitter."""
    auth_retry_seconds: Seconds = 60.0
    """Wait between retries while the server refuses the credentials (401/403) or the
    database is missing (404): the data stays buffered until someone fixes it."""

    @model_validator(mode="after")
    def _v2_needs_bucket(self) -> Self:
        if self.api == "v2" and not (self.org and self.bucket):
            raise ValueError("api v2 needs both 'org' and 'bucket'")
        return self


class BufferSettings(ConfigModel):
    """Store-and-forward buffers on disk, one per output."""

    directory: str = "/var/lib/posfleet/buffer"
    """Folder of the buffer files."""
    max_bytes: Annotated[int, Field(ge=1_048_576)] = 1_073_741_824
    """Size cap per output; at the cap the oldest data is dropped (and counted)."""


class UplinkSettings(ConfigModel):
    """The edge collector's uplink of snapshots and transactions to the central broker."""

    url: str = "mqtt://127.0.0.1:1883"
    """Central broker URL: mqtt:// or mqtts:// (TLS)."""
    username: str | None = None
    """User name at the central broker."""
    password: SecretStr | None = None
    """Password; set POSFLEET_UPLINK__PASSWORD instead of writing it here."""
    ca_file: str | None = None
    """CA bundle to verify the central broker's certificate (mqtts)."""
    client_cert_file: str | None = None
    """Client certificate for mutual TLS."""
    client_key_file: str | None = None
    """Key of the client certificate."""
    topic_prefix: str = "posfleet/uplink/v1"
    """Prefix of uplinked messages: <prefix>/<merchant>/<store>/<terminal>/status; kept apart
    from terminals' own pushes so an edge never re-reads what it sent."""
    session_expiry_seconds: Annotated[int, Field(ge=0)] = 86_400
    """How long the broker keeps the persistent session (and queued QoS 1 messages)."""
    max_in_flight: Annotated[int, Field(ge=1, le=65_535)] = 256
    """QoS 1 messages sent and awaiting the broker's PUBACK at once (throughput over long
    round trips); the disk buffer is advanced only past confirmed messages."""
    publish_timeout_seconds: Seconds = 10.0
    """Longest wait for a PUBACK before the connection is treated as broken and the
    unconfirmed messages are sent again after reconnecting."""


class IngestSettings(ConfigModel):
    """Central ingest: MQTT in, validated, written to InfluxDB and exposed to Prometheus."""

    listen: str = "127.0.0.1:9465"
    """Address of ingest's /metrics endpoint."""
    share_group: Identifier = "posfleet-ingest"
    """MQTT v5 shared-subscription group; every copy of ingest in it shares the load."""
    subscribe_terminal_pushes: bool = True
    """Also take terminals' direct pushes (<mqtt.topic_prefix>/...), not only edge uplinks."""
    max_payload_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    """Largest message accepted; larger ones are refused and counted."""
    stale_after_seconds: Seconds = 300.0
    """A terminal with no snapshot for this long is reported as stale on /metrics."""
    url: str | None = None
    """Central broker URL (mqtt:// or mqtts://); defaults to ``uplink.url``, else
    ``mqtt.url``."""
    username: str | None = None
    """User name at the central broker."""
    password: SecretStr | None = None
    """Password; set POSFLEET_INGEST__PASSWORD instead of writing it here."""
    ca_file: str | None = None
    """CA bundle to verify the central broker's certificate (mqtts)."""
    client_cert_file: str | None = None
    """Client certificate for mutual TLS."""
    client_key_file: str | None = None
    """Key of the client certificate."""
    client_id: str | None = None
    """MQTT client id of this copy of ingest; every copy needs its own, stable across
    restarts (``posfleet ingest --client-id``), or the messages the broker queued for a
    stopped copy wait for a session that never comes back. Default: <share_group>-<host>."""
    session_expiry_seconds: Annotated[int, Field(ge=0)] = 3_600
    """How long the broker keeps this copy's session (and its queued messages) while it is
    disconnected."""
    max_in_flight: Annotated[int, Field(ge=1, le=65_535)] = 1_000
    """Messages the broker may send before ingest acknowledges them (MQTT v5 receive
    maximum); messages are acknowledged once the outputs have written or buffered them."""


class RemoteWriteSettings(ConfigModel):
    """Prometheus remote-write from the edge, for sites where Prometheus cannot scrape."""

    url: str
    """Receiver URL, e.g. http://prometheus:9090/api/v1/write or Mimir's /api/v1/push."""
    username: str | None = None
    """Basic-auth user."""
    password: SecretStr | None = None
    """Basic-auth password; set POSFLEET_REMOTE_WRITE__PASSWORD."""
    bearer_token: SecretStr | None = None
    """Bearer token; set POSFLEET_REMOTE_WRITE__BEARER_TOKEN."""
    interval_seconds: Seconds = 15.0
    """How often the current state is sent."""
    max_samples_per_request: Annotated[int, Field(ge=100)] = 10_000
    """Samples per request; larger sends are split."""
    timeout_seconds: Seconds = 30.0
    """Time allowed for one request before it counts as failed and is retried."""
    min_backoff_seconds: Seconds = 0.5
    """First wait before retrying a failed request; doubles on every further failure."""
    max_backoff_seconds: Seconds = 30.0
    """Longest wait between retries (a receiver's Retry-After is honoured up to 10 min)."""
    job: Identifier = "posfleet-collector"
    """Value of the ``job`` label on every series (``instance`` is the collector's id), as
    a scraping Prometheus would add them."""

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> Self:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        if self.bearer_token is not None and self.username is not None:
            raise ValueError("set username/password or bearer_token, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both username and password")
        return self


class TicketsSettings(ConfigModel):
    """The ticket bridge: Alertmanager webhooks in, one maintenance ticket per fault out."""

    listen: str = "127.0.0.1:9466"
    """Address of the bridge's HTTP server (webhook, REST API, /metrics)."""
    database: str = "/var/lib/posfleet/tickets.sqlite3"
    """SQLite file path, or a SQLAlchemy URL (sqlite:///path, postgresql+psycopg://user@host/db);
    set POSFLEET_TICKETS__DATABASE when the URL holds a password."""
    bearer_tokens: list[SecretStr] = Field(default_factory=list)
    """Accepted bearer tokens; set POSFLEET_TICKETS__BEARER_TOKENS='["token"]'."""
    basic_auth: dict[str, SecretStr] = Field(default_factory=dict)
    """Accepted basic-auth users and passwords; set POSFLEET_TICKETS__BASIC_AUTH='{"am": "pw"}'."""
    close_grace_seconds: Annotated[float, Field(ge=0)] = 300.0
    """Time a resolved ticket stays open before it closes, in case the fault flaps."""
    reopen_window_seconds: Annotated[float, Field(ge=0)] = 86_400.0
    """A fault firing again this soon after its ticket closed reopens that ticket."""
    extra_key_labels: list[str] = Field(default_factory=list)
    """Labels added to the ticket key beside alertname, component and terminal (or store),
    e.g. an environment label when several fleets share one bridge."""
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    """Largest webhook body accepted; larger ones get 413 and are counted."""
    busy_timeout_seconds: Seconds = 5.0
    """Longest wait for the database; after it the webhook answers 503 so Alertmanager retries."""
    outbox_poll_seconds: Seconds = 1.0
    """How often the outbox is checked for changes to push to the ticketing systems."""
    retry_min_seconds: Seconds = 1.0
    """First wait before retrying a failed outbound call; doubles on every failure."""
    retry_max_seconds: Seconds = 300.0
    """Longest wait between retries of an outbound call."""
    max_attempts: Annotated[int, Field(ge=1)] = 50
    """Attempts of an outbound call before it is given up (and counted as dead)."""
    webhook: WebhookTargetSettings | None = None
    """Generic webhook receiver of ticket changes; absent means none."""
    redmine: RedmineTargetSettings | None = None
    """Redmine target; absent means none."""
    jira: JiraTargetSettings | None = None
    """Jira target; absent means none."""


BaselineComponent = Literal["os", "payment_app", "emv_kernel"]


class AlertingSettings(ConfigModel):
    """Fleet policy the alert rules compare against, exported by the collector as metrics
    (``posfleet_policy_threshold``, ``posfleet_baseline_info``) so that thresholds change
    here, never in the rule files; plus the inputs of derived metrics such as the receipt
    paper's time to empty."""

    paper_near_end_lines: Annotated[int, Field(ge=1)] = 250
    """Receipt lines a roll still holds when the near-end sensor trips (80 mm rolls: 1 to
    3 m, about 4 mm per line; the default is the cautious end)."""
    paper_near_end_lines_by_model: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict
    )
    """The same per printer or terminal model (the terminal's ``model``), e.g. {TM-T88VI: 400}."""
    print_rate_window_seconds: Seconds = 900.0
    """Time constant of the smoothed print rate behind the time to empty (about the last
    15 minutes of sales weigh most)."""
    print_rate_min_history_seconds: Seconds = 300.0
    """Printing history a terminal needs before its time to empty is estimated."""
    paper_time_to_empty_warning_seconds: Seconds = 1_800.0
    """Warn the store when the paper will run out within this time at the current rate."""
    acquirer_timeout_seconds: Seconds = 10.0
    """How long terminals wait for the acquirer's answer; latency alerts fire when the
    round trip trends towards it."""
    acquirer_latency_warning_seconds: Seconds = 3.0
    """Round trip that must already be exceeded before a predicted timeout alerts (so a
    noisy but low latency does not)."""
    packet_loss_max_ratio: Annotated[float, Field(gt=0, le=1)] = 0.05
    """Share of lost probes to the acquirer beyond which payments start to time out."""
    signal_min_dbm: float = -100.0
    """Weakest usable signal (cellular; Wi-Fi is unusable well before this, so a fall
    below a Wi-Fi terminal's usual level is caught by ``signal_drop_warning_db``)."""
    signal_drop_warning_db: Annotated[float, Field(gt=0)] = 8.0
    """Warn when a terminal's signal has fallen this far below its level of the last day
    and keeps falling."""
    link_flaps_max_per_hour: Annotated[float, Field(gt=0)] = 3.0
    """Link down/up cycles per hour beyond which the link counts as flapping."""
    sim_data_warning_seconds: Seconds = 259_200.0
    """Warn when the SIM's data is predicted to run out within this time (3 days)."""
    security_patch_max_age_seconds: Seconds = 7_776_000.0
    """Oldest acceptable security patch level (90 days)."""
    certificate_warning_seconds: Seconds = 2_592_000.0
    """Warn when a terminal's TLS certificate expires within this time (30 days)."""
    key_warning_seconds: Seconds = 2_592_000.0
    """Warn when a terminal's payment keys must be renewed within this time (30 days)."""
    clock_skew_max_seconds: Seconds = 120.0
    """Largest clock error tolerated before TLS and certificate checks are at risk."""
    battery_health_min_ratio: Annotated[float, Field(gt=0, le=1)] = 0.6
    """Battery capacity relative to design below which the battery counts as worn."""
    data_stale_seconds: Seconds = 900.0
    """A terminal without good data for this long (while its store is open) is stale."""
    card_read_failure_max_ratio: Annotated[float, Field(gt=0, le=1)] = 0.1
    """Share of failed card reads over an hour beyond which the reader needs service."""
    qr_decode_failure_max_ratio: Annotated[float, Field(gt=0, le=1)] = 0.25
    """Share of failed QR decodes over an hour beyond which the camera needs service."""
    touch_errors_max_per_hour: Annotated[float, Field(gt=0)] = 20.0
    """Touch controller errors per hour beyond which the panel needs service."""
    printer_faults_max_per_hour: Annotated[float, Field(gt=0)] = 3.0
    """Printer faults (jams, cutter, mechanical) per hour beyond which it needs service."""
    transaction_failure_max_ratio: Annotated[float, Field(gt=0, le=1)] = 0.1
    """Share of a store's payment attempts failing for technical reasons (device, network,
    terminal configuration, gateway, unclassified) beyond which it alerts."""
    operator_error_max_ratio: Annotated[float, Field(gt=0, le=1)] = 0.15
    """Share of a store's attempts failing through cashier or customer input."""
    pending_reversal_max_age_seconds: Seconds = 900.0
    """Oldest acceptable reversal still waiting to reach the acquirer (15 minutes)."""
    failed_reversal_retention_seconds: Seconds = 86_400.0
    """How long a failed reversal stays counted (and alerting) after it was reported."""
    baseline_versions: dict[BaselineComponent, str] = Field(default_factory=dict)
    """Lowest acceptable version per component (os, payment_app, emv_kernel), as the
    acquirer certifies them, e.g. {payment_app: "5.4.0"}; a component without one is not
    checked."""


class PosfleetConfig(BaseSettings):
    """A whole posfleet configuration file, with secrets from the environment."""

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        env_prefix="POSFLEET_",
        env_nested_delimiter="__",
        nested_model_default_partial_update=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file, so a deployment injects secrets without edits.
        return env_settings, init_settings

    merchants: list[Merchant] = Field(default_factory=list)
    """Merchants in the fleet."""
    stores: list[Store] = Field(default_factory=list)
    """Stores with their terminals."""
    collector: CollectorSettings = CollectorSettings()
    """Edge collector settings."""
    mqtt: MqttSettings = MqttSettings()
    """MQTT broker settings."""
    influxdb: InfluxDbSettings | None = None
    """InfluxDB output; absent means no InfluxDB output."""
    uplink: UplinkSettings | None = None
    """MQTT uplink from the edge collector to the central broker; absent means none."""
    ingest: IngestSettings = IngestSettings()
    """Central ingest settings."""
    remote_write: RemoteWriteSettings | None = None
    """Prometheus remote-write from the collector; absent means none."""
    buffer: BufferSettings = BufferSettings()
    """Store-and-forward buffer settings."""
    tickets: TicketsSettings = TicketsSettings()
    """Ticket bridge settings."""
    alerting: AlertingSettings = AlertingSettings()
    """Alerting policy: thresholds and baselines the alert rules use."""
    payments: PaymentsSettings = PaymentsSettings()
    """Payment failure causes, charged-but-failed cases and reconciliation files."""
    status_store: StatusStoreSettings | None = None
    """Status store output (terminals' latest state and hourly history for the web app);
    absent means none."""
    web: WebSettings = WebSettings()
    """The web app: status pages, fleet view, ticket queue and JSON API."""

    def terminals(self) -> list[tuple[Store, Terminal]]:
        return [(store, terminal) for store in self.stores for terminal in store.terminals]
