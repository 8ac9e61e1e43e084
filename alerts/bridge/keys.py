"""The ticket key: which alerts are the same fault, hence the same ticket.

The key is built from stable labels only, never from Alertmanager's group key (which
changes with the route's ``group_by`` and with the set of alerts in the group):

* ``alertname`` (the fault) and ``component`` (the part that has it);
* the place: ``terminal`` when the alert names one, else ``store``, else ``region``, else
  the whole fleet;
* the values of the configured ``extra_key_labels`` (e.g. an environment), and of ``case``
  when the alert has one (charged-but-failed payment cases), sorted by name.

The canonical text ``alertname=...\\ncomponent=...\\n<place>=...[\\n<extra>=...]`` is kept
on the ticket as its ``identity``; the key is ``pf-`` and the first 16 hex digits of the
text's SHA-256: short, without spaces, the same on every copy of the bridge.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

KEY_PREFIX = "pf-"
ALWAYS_KEYED = "case"
"""A label that joins the key whenever an alert carries it (payment cases, one ticket each)."""


@dataclass(frozen=True, slots=True)
class TicketKey:
    """A fault's key and the readable identity it was derived from."""

    key: str
    identity: str


def place_of(labels: Mapping[str, str]) -> tuple[str, str]:
    """The most precise place an alert names: terminal, store, region or the fleet."""
    for label in ("terminal", "store", "region"):
        value = labels.get(label, "")
        if value:
            return label, value
    return "fleet", "all"


def ticket_key(labels: Mapping[str, str], extra_labels: Sequence[str] = ()) -> TicketKey:
    """Derive the ticket key of an alert from its labels (see the module docstring)."""
    place, value = place_of(labels)
    parts = [
        ("alertname", labels.get("alertname", "")),
        ("component", labels.get("component", "")),
        (place, value),
    ]
    # A charged-but-failed case is its own fault: two cases on one terminal, two tickets.
    extra = set(extra_labels) | ({ALWAYS_KEYED} if labels.get(ALWAYS_KEYED) else set())
    parts += [(name, labels.get(name, "")) for name in sorted(extra)]
    identity = "\n".join(f"{name}={value}" for name, value in parts)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return TicketKey(key=f"{KEY_PREFIX}{digest}", identity=identity)
