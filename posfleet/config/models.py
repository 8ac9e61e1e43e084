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

from posfleet.telemetry.base import Identifier


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

    def terminals(self) -> list[tuple[Store, Terminal]]:
        return [(store, terminal) for store in self.stores for terminal in store.terminals]
