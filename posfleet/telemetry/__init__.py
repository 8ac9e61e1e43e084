"""The telemetry contract: status snapshots and transaction events (version 1).

Every driver produces these models, every exporter, rule and page reads them. The JSON
Schema in ``docs/schema/`` and the field guide ``docs/telemetry.md`` are generated from
them (``posfleet schema export``).
"""

from posfleet.telemetry.base import TELEMETRY_SCHEMA_VERSION
from posfleet.telemetry.status import (
    CardReaderStatus,
    FirmwareStatus,
    NetworkInterface,
    NetworkStatus,
    PaperState,
    PrinterStatus,
    QrScannerStatus,
    ScreenStatus,
    StatusSnapshot,
    SystemStatus,
)
from posfleet.telemetry.transaction import LocalError, Outcome, ReversalState, TransactionEvent

__all__ = [
    "TELEMETRY_SCHEMA_VERSION",
    "CardReaderStatus",
    "FirmwareStatus",
    "LocalError",
    "NetworkInterface",
    "NetworkStatus",
    "Outcome",
    "PaperState",
    "PrinterStatus",
    "QrScannerStatus",
    "ReversalState",
    "ScreenStatus",
    "StatusSnapshot",
    "SystemStatus",
    "TransactionEvent",
]
