"""Why a payment attempt ended as it did, in a few groups that say who must act.

The groups and the code tables live in :mod:`posfleet.payments` (data files per network,
selected and overridden per acquirer in the ``payments`` section); this module keeps the
names the derived metrics and their tests use. A code or error no table knows is
``unclassified``, never guessed.
"""

from __future__ import annotations

from typing import Final

from posfleet.payments.classification import default_classifier
from posfleet.payments.groups import LOCAL_ERROR_CAUSES, CauseGroup
from posfleet.telemetry import TransactionEvent

__all__ = [
    "CAUSE_GROUPS",
    "LOCAL_ERROR_CAUSES",
    "TECHNICAL_FAILURES",
    "CauseGroup",
    "cause_of",
]

CAUSE_GROUPS: Final = tuple(group.value for group in CauseGroup)

TECHNICAL_FAILURES: Final = frozenset(
    {
        CauseGroup.DEVICE_FAULT,
        CauseGroup.NETWORK,
        CauseGroup.TERMINAL_CONFIG,
        CauseGroup.GATEWAY_OUTAGE,
        CauseGroup.UNCLASSIFIED,
    }
)
"""Groups that count as a technical failure in the failure-rate alerts."""


def cause_of(event: TransactionEvent) -> CauseGroup:
    """The group of one attempt with the generic ISO 8583 table (no acquirer known)."""
    return default_classifier().classify(event)
