"""Generate the simulated fleet: merchants, stores and terminals, from a seed.

Every draw comes from a stream derived from (seed, entity id, purpose), so terminal
T-0007 is the same terminal whether the fleet has 10 or 20,000 terminals, and changing the
driver mix changes drivers only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import time
from typing import Literal, TypeVar

from posfleet.simulator.catalog import (
    ACQUIRERS,
    MERCHANT_NAMES,
    PAYMENT_TERMINALS,
    RECEIPT_PRINTERS,
    REGIONS,
    STREETS,
    DeviceModel,
    Interface,
    Region,
)
from posfleet.simulator.hours import OpeningSpan
from posfleet.simulator.rng import stream

DriverName = Literal["http", "mqtt", "escpos"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DriverShares:
    """Share of terminals served by each driver (normalised, so they need not sum to 1)."""

    http: float = 0.6
    mqtt: float = 0.38
    escpos: float = 0.02

    def pick(self, draw: float) -> DriverName:
        total = self.http + self.mqtt + self.escpos
        if total <= 0:
            raise ValueError("at least one driver share must be positive")
        point = draw * total
        if point < self.http:
            return "http"
        if point < self.http + self.mqtt:
            return "mqtt"
        return "escpos"


@dataclass(frozen=True, slots=True)
class FirmwareRelease:
    """A payment application version and the share of terminals running it."""

    version: str
    share: float


DEFAULT_FIRMWARE: tuple[FirmwareRelease, ...] = (
    FirmwareRelease("3.4.2", 0.8),
    FirmwareRelease("3.4.1", 0.15),
    FirmwareRelease("3.2.0", 0.05),
)


@dataclass(frozen=True, slots=True)
class FleetParameters:
    """Size, seed and mix of the fleet to generate."""

    terminals: int = 50
    stores: int = 10
    merchants: int = 3
    seed: int = 1
    drivers: DriverShares = DriverShares()
    firmware: tuple[FirmwareRelease, ...] = DEFAULT_FIRMWARE


@dataclass(frozen=True, slots=True)
class MerchantSpec:
    id: str
    name: str
    acquirer: str
    regions: tuple[Region, ...]


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    """A cashier; ``error_rate`` is the share of sales they key in wrong."""

    id: str
    error_rate: float


@dataclass(frozen=True, slots=True)
class StoreSpec:
    id: str
    merchant: MerchantSpec
    name: str
    region: Region
    city: str
    street: str
    opening_hours: tuple[OpeningSpan, ...]
    operators: tuple[OperatorSpec, ...]


@dataclass(frozen=True, slots=True)
class TerminalSpec:
    """A terminal's fixed properties (its changing state lives in the model)."""

    id: str
    store: StoreSpec
    driver: DriverName
    device: DeviceModel
    serial: str
    has_printer: bool
    interface: Interface | None
    payment_app_version: str
    traffic_per_hour: float
    """Sales per hour at a normal hour; lunch and evening peaks go above it."""


@dataclass(frozen=True, slots=True)
class FleetSpec:
    merchants: tuple[MerchantSpec, ...]
    stores: tuple[StoreSpec, ...]
    terminals: tuple[TerminalSpec, ...]
    parameters: FleetParameters = field(default_factory=FleetParameters)


def merchant_id(index: int) -> str:
    return f"M-{index + 1:02d}"


def store_id(index: int) -> str:
    return f"S-{index + 1:03d}"


def terminal_id(index: int) -> str:
    return f"T-{index + 1:04d}"


def _weighted(rng: random.Random, options: tuple[tuple[T, float], ...]) -> T:
    return rng.choices([option for option, _ in options], [weight for _, weight in options])[0]


def _merchant(seed: int, index: int) -> MerchantSpec:
    ident = merchant_id(index)
    rng = stream(seed, ident, "profile")
    name = MERCHANT_NAMES[index % len(MERCHANT_NAMES)]
    if index >= len(MERCHANT_NAMES):
        name = f"{name} {index // len(MERCHANT_NAMES) + 1}"
    home = rng.choice(REGIONS)
    neighbours = tuple(region for region in REGIONS if region.country == home.country)
    acquirer = "cup" if home.country == "CN" else ACQUIRERS[0]
    return MerchantSpec(ident, name, acquirer, neighbours)


def _opening_hours(rng: random.Random) -> tuple[OpeningSpan, ...]:
    weekdays = ("mon", "tue", "wed", "thu", "fri")
    kind = rng.random()
    if kind < 0.1:
        return ()  # open around the clock (petrol stations, airports)
    if kind < 0.25:  # bars and restaurants open past midnight
        return (OpeningSpan((*weekdays, "sat", "sun"), time(11), time(1)),)
    opens = time(rng.choice((7, 8, 9)))
    closes = time(rng.choice((19, 20, 21, 22)))
    return (
        OpeningSpan(weekdays, opens, closes),
        OpeningSpan(("sat",), time(opens.hour + 1), time(closes.hour - 1)),
    )


def _store(seed: int, index: int, merchants: tuple[MerchantSpec, ...]) -> StoreSpec:
    ident = store_id(index)
    rng = stream(seed, ident, "profile")
    # The first stores go one to each merchant, so that every merchant has a store.
    merchant = merchants[index] if index < len(merchants) else rng.choice(merchants)
    region = rng.choice(merchant.regions)
    city = rng.choice(region.cities)
    operators = tuple(
        # Most cashiers rarely mistype; a few are much worse (new staff, rushed shifts).
        OperatorSpec(f"{ident}-C{n + 1}", min(0.08, rng.lognormvariate(-5.0, 0.9)))
        for n in range(rng.randint(2, 6))
    )
    return StoreSpec(
        id=ident,
        merchant=merchant,
        name=f"{merchant.name} {city} {index + 1}",
        region=region,
        city=city,
        street=f"{rng.randint(1, 180)} {rng.choice(STREETS)}",
        opening_hours=_opening_hours(rng),
        operators=operators,
    )


def _terminal(
    params: FleetParameters, index: int, stores: tuple[StoreSpec, ...]
) -> TerminalSpec:
    ident = terminal_id(index)
    seed = params.seed
    if index < len(stores):
        store = stores[index]
    else:
        store = stores[stream(seed, ident, "store").randrange(len(stores))]
    driver = params.drivers.pick(stream(seed, ident, "driver").random())
    rng = stream(seed, ident, "profile")
    if driver == "escpos":
        device = _weighted(rng, RECEIPT_PRINTERS)
        has_printer, interface = True, None
    else:
        device = _weighted(rng, PAYMENT_TERMINALS)
        has_printer = rng.random() < device.printer_share
        interface = _weighted(rng, device.interfaces)
    firmware_rng = stream(seed, ident, "firmware")
    releases = tuple((release.version, release.share) for release in params.firmware)
    return TerminalSpec(
        id=ident,
        store=store,
        driver=driver,
        device=device,
        serial=f"{device.serial_prefix}{rng.randrange(10**6, 10**7)}",
        has_printer=has_printer,
        interface=interface,
        payment_app_version=_weighted(firmware_rng, releases),
        traffic_per_hour=rng.uniform(8.0, 30.0),
    )


def generate_fleet(params: FleetParameters) -> FleetSpec:
    """The fleet for ``params``; the same parameters always give the same fleet."""
    if params.merchants < 1 or params.stores < 1 or params.terminals < 0:
        raise ValueError("a fleet needs at least one merchant and one store")
    merchants = tuple(_merchant(params.seed, index) for index in range(params.merchants))
    stores = tuple(_store(params.seed, index, merchants) for index in range(params.stores))
    terminals = tuple(_terminal(params, index, stores) for index in range(params.terminals))
    return FleetSpec(merchants, stores, terminals, params)
