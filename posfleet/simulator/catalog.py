"""What the generated fleet is made of: device models, regions, names and card ranges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Interface = Literal["ethernet", "wifi", "cellular"]


@dataclass(frozen=True, slots=True)
class DeviceModel:
    """A terminal or printer model and what it is fitted with."""

    vendor: str
    model: str
    mobile: bool
    """Runs on a battery (handheld); countertop models are on mains."""
    printer_share: float
    """Share of units with a built-in receipt printer."""
    qr_camera: bool
    interfaces: tuple[tuple[Interface, float], ...]
    """Network interfaces with the share of units using each."""
    os_versions: tuple[str, ...]
    """Operating system versions, newest first."""
    serial_prefix: str


PAYMENT_TERMINALS: tuple[tuple[DeviceModel, float], ...] = (
    (
        DeviceModel(
            "PAX", "A920", True, 0.95, True,
            (("wifi", 0.6), ("cellular", 0.4)), ("PayDroid 8.1", "PayDroid 7.1"), "1850",
        ),
        0.35,
    ),
    (
        DeviceModel(
            "PAX", "A80", False, 0.9, False,
            (("ethernet", 0.8), ("wifi", 0.2)), ("Prolin 2.6", "Prolin 2.5"), "1240",
        ),
        0.2,
    ),
    (
        DeviceModel(
            "Ingenico", "Move/5000", True, 1.0, False,
            (("cellular", 0.5), ("wifi", 0.5)), ("Telium TETRA 11", "Telium TETRA 10"), "2210",
        ),
        0.2,
    ),
    (
        DeviceModel(
            "Sunmi", "P2", True, 0.9, True,
            (("wifi", 0.7), ("cellular", 0.3)), ("Sunmi OS 3.1", "Sunmi OS 2.9"), "P2",
        ),
        0.15,
    ),
    (
        DeviceModel(
            "Verifone", "V400m", True, 0.0, True,
            (("wifi", 0.5), ("cellular", 0.5)), ("VOS3 1.4", "VOS3 1.3"), "401",
        ),
        0.1,
    ),
)

RECEIPT_PRINTERS: tuple[tuple[DeviceModel, float], ...] = (
    (DeviceModel("Epson", "TM-T88VI", False, 1.0, False, (), (), "X4"), 0.6),
    (DeviceModel("Star", "TSP143IV", False, 1.0, False, (), (), "2590"), 0.4),
)


@dataclass(frozen=True, slots=True)
class Region:
    """A region: its id, time zone, country, currency and cities."""

    id: str
    timezone: str
    country: str
    currency: str
    cities: tuple[str, ...]


REGIONS: tuple[Region, ...] = (
    Region("de-east", "Europe/Berlin", "DE", "EUR", ("Berlin", "Leipzig", "Dresden")),
    Region("de-north", "Europe/Berlin", "DE", "EUR", ("Hamburg", "Bremen", "Kiel")),
    Region("fr-idf", "Europe/Paris", "FR", "EUR", ("Paris", "Versailles")),
    Region("uk-south", "Europe/London", "GB", "GBP", ("London", "Brighton")),
    Region("cn-east", "Asia/Shanghai", "CN", "CNY", ("Shanghai", "Hangzhou", "Suzhou")),
)

MERCHANT_NAMES: tuple[str, ...] = (
    "Acme Supermarkets", "Lotus Tea House", "Northwind Pharmacy", "Bluebird Bakery",
    "Orbit Electronics", "Cedar Books", "Harbor Fuel", "Maple Fashion", "Summit Sports",
    "Juniper Cafe",
)

STREETS: tuple[str, ...] = (
    "Market Street", "Station Road", "High Street", "Harbour Lane", "Park Avenue",
    "Church Street", "Mill Road", "Bridge Street",
)

ACQUIRERS: tuple[str, ...] = ("iso8583", "cup")

CARD_RANGES: tuple[tuple[str, float], ...] = (
    ("476173", 0.35),  # Visa
    ("535110", 0.3),  # Mastercard
    ("625800", 0.2),  # UnionPay
    ("374245", 0.05),  # American Express (15 digits)
    ("601100", 0.1),  # Discover
)
