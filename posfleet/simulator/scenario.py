"""Scenario files: a fleet, a start time, a speed and faults scripted at given times.

A scenario is YAML checked by the pydantic models below; every problem is reported with its
path (``faults[2].terminal: ...``), the same way the configuration loader reports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from posfleet.simulator.fleet import DriverShares, FirmwareRelease, FleetParameters
from posfleet.telemetry.base import Identifier
from posfleet.validation import FieldError, field_errors

TerminalFaultKind = Literal[
    "paper_out",
    "paper_near_end",
    "paper_jam",
    "cutter_error",
    "cover_open",
    "over_temperature",
    "link_down",
    "link_flap",
    "network_degraded",
    "sim_quota_exhausted",
    "reboot",
    "certificate_expired",
    "card_reader_degrading",
    "touch_degrading",
    "qr_scanner_degrading",
]
StoreFaultKind = Literal["uplink_down"]
MerchantFaultKind = Literal["gateway_outage"]
_STORE_KINDS = ("uplink_down",)
_MERCHANT_KINDS = ("gateway_outage",)


class ScenarioModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ScriptedFaultEntry(ScenarioModel):
    """A fault that happens at a given time, e.g. a store losing its uplink at 10:05."""

    at: AwareDatetime | time
    """When: a full RFC 3339 time, or HH:MM[:SS] on the start day in the start's zone."""
    kind: TerminalFaultKind | StoreFaultKind | MerchantFaultKind
    """What happens. Terminal faults need ``terminal``; uplink_down needs ``store``;
    gateway_outage needs ``merchant``. *_degrading faults ramp up over ``for_minutes`` and
    then fail outright."""
    terminal: Identifier | None = None
    """The terminal it happens to, e.g. T-0007."""
    store: Identifier | None = None
    """The store it happens to (uplink_down), e.g. S-003."""
    merchant: Identifier | None = None
    """The merchant whose acquirer gateway fails (gateway_outage), e.g. M-01."""
    for_minutes: Annotated[float, Field(gt=0)] | None = None
    """How long it lasts; absent: until the model's staff or technicians fix it."""

    @field_validator("at", mode="before")
    @classmethod
    def _unquoted_time(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 10:05 as the base-60 number 605, 10:05:30 as 36330.
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            if value < 24 * 60:
                return time(value // 60, value % 60)
            if value < 86400:
                return time(value // 3600, value // 60 % 60, value % 60)
        return value

    @model_validator(mode="after")
    def _target_matches_kind(self) -> Self:
        if self.kind in _STORE_KINDS:
            wanted = "store"
        elif self.kind in _MERCHANT_KINDS:
            wanted = "merchant"
        else:
            wanted = "terminal"
        given = [name for name in ("terminal", "store", "merchant") if getattr(self, name)]
        if given != [wanted]:
            raise ValueError(f"{self.kind} needs exactly '{wanted}' set (got: "
                             f"{', '.join(given) or 'none'})")
        return self

    @property
    def target(self) -> str:
        return self.terminal or self.store or self.merchant or ""


class DriverMix(ScenarioModel):
    """Share of terminals per driver (normalised)."""

    http: Annotated[float, Field(ge=0)] = 0.6
    """Android terminals serving their status over HTTP."""
    mqtt: Annotated[float, Field(ge=0)] = 0.38
    """Terminals that push status and transactions to the broker."""
    escpos: Annotated[float, Field(ge=0)] = 0.02
    """Receipt printers on a serial line (each needs a pseudo-terminal)."""


class FirmwareEntry(ScenarioModel):
    """A payment application version and the share of terminals running it."""

    version: Annotated[str, Field(min_length=1, max_length=64)]
    """Version string."""
    share: Annotated[float, Field(gt=0)]
    """Relative share of terminals."""


class FleetSection(ScenarioModel):
    """The generated fleet."""

    terminals: Annotated[int, Field(ge=1, le=200_000)] = 50
    """Number of terminals."""
    stores: Annotated[int, Field(ge=1)] = 10
    """Number of stores."""
    merchants: Annotated[int, Field(ge=1)] = 3
    """Number of merchants."""
    drivers: DriverMix = DriverMix()
    """How terminals are read."""
    firmware: list[FirmwareEntry] = Field(
        default_factory=lambda: [
            FirmwareEntry(version=r.version, share=r.share)
            for r in FleetParameters().firmware
        ]
    )
    """Payment application versions in the field; the first is the acquirer's baseline."""


class Scenario(ScenarioModel):
    """A simulation run: fleet, seed, start, speed and scripted faults."""

    seed: int = 1
    """Seed of every random draw; the same seed gives the same run."""
    start: AwareDatetime = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    """Simulated time at which the run starts."""
    speed: Annotated[float, Field(gt=0)] = 1.0
    """Simulated seconds per real second (60: a simulated minute per second)."""
    status_interval_seconds: Annotated[float, Field(gt=0)] = 60.0
    """Simulated seconds between status pushes of MQTT terminals (and recorded snapshots)."""
    spontaneous_faults: bool = True
    """Whether faults also strike at random, with no warning in the terminals' status: link
    flaps, link outages and degraded links, reboots, open printer covers, paper jams, cutter
    errors, print-head over-temperature, store uplink and acquirer gateway outages, and card
    readers, touch screens and QR scanners starting to degrade. false: faults come only from
    ``faults`` below and from what the terminals' state leads to, which their status shows
    coming (a roll running out after its near-end sensor tripped, a SIM plan used up, a
    certificate expiring, a battery running flat). Failed payments that are no fault
    (issuer refusals, cashier mistakes, cards read badly) happen either way. The default
    keeps every seed's run unchanged."""
    fleet: FleetSection = FleetSection()
    """The fleet to generate."""
    faults: list[ScriptedFaultEntry] = Field(default_factory=list)
    """Faults scripted at given times."""

    def parameters(self) -> FleetParameters:
        mix = self.fleet.drivers
        return FleetParameters(
            terminals=self.fleet.terminals,
            stores=self.fleet.stores,
            merchants=self.fleet.merchants,
            seed=self.seed,
            drivers=DriverShares(mix.http, mix.mqtt, mix.escpos),
            firmware=tuple(FirmwareRelease(f.version, f.share) for f in self.fleet.firmware),
        )

    def scripted_faults(self) -> list[ScriptedFault]:
        out = []
        for index, entry in enumerate(self.faults):
            if isinstance(entry.at, datetime):
                at = entry.at
            else:
                zone = self.start.tzinfo
                at = datetime.combine(self.start.date(), entry.at, tzinfo=zone)
                if at < self.start and at + timedelta(days=1) - self.start < timedelta(hours=12):
                    at += timedelta(days=1)  # a time shortly after midnight of a late start
            duration = entry.for_minutes * 60.0 if entry.for_minutes is not None else None
            out.append(ScriptedFault(at.timestamp(), entry.kind, entry.target, duration,
                                     ("faults", index)))
        return out


@dataclass(frozen=True, slots=True)
class ScriptedFault:
    """A scripted fault resolved to simulated time."""

    at: float
    kind: str
    target: str
    duration: float | None
    location: tuple[int | str, ...]
    """Where the fault sits in the scenario file, for error messages."""


class ScenarioError(Exception):
    """The scenario is unusable; one line per problem, each naming its field."""

    def __init__(self, source: str, errors: list[FieldError]) -> None:
        self.source = source
        self.errors = errors
        super().__init__("\n".join(self.messages()))

    def messages(self) -> list[str]:
        return [f"{self.source}: {error}" for error in self.errors]


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate scenario YAML; raise :class:`ScenarioError` listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(where, [FieldError((), f"not valid YAML: {problem}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(source, [FieldError((), "the file must be a mapping")])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, field_errors(exc)) from None


def load_scenario(path: Path | str) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), [FieldError((), f"cannot read the file: {exc}")]) from None
    return parse_scenario(text, str(path))
