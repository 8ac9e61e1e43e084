"""Turn a webhook notification into one :class:`AlertFacts` per fault."""

from __future__ import annotations

from collections.abc import Sequence

from posfleet.alerts.bridge.inventory import Inventory
from posfleet.alerts.bridge.keys import ticket_key
from posfleet.alerts.bridge.model import AlertFacts
from posfleet.alerts.bridge.payload import Alert, WebhookMessage

# Alertmanager's "zero" endsAt of a firing alert.
_NO_END_YEAR = 1


def _facts(alert: Alert, inventory: Inventory, extra_key_labels: Sequence[str]) -> AlertFacts:
    labels = alert.labels
    annotations = alert.annotations
    key = ticket_key(labels, extra_key_labels)
    place = inventory.place(labels)
    ends_at = alert.endsAt if alert.endsAt and alert.endsAt.year > _NO_END_YEAR else None
    alertname = labels.get("alertname", "")
    return AlertFacts(
        key=key.key,
        identity=key.identity,
        firing=alert.status == "firing",
        alertname=alertname,
        severity=labels.get("severity") or None,
        team=labels.get("team") or None,
        component=labels.get("component") or None,
        terminal=labels.get("terminal") or None,
        store=labels.get("store") or place.store,
        merchant=labels.get("merchant") or place.merchant,
        region=labels.get("region") or place.region,
        store_name=place.store_name,
        store_address=place.address,
        summary=annotations.get("summary") or alertname or "alert without a name",
        description=annotations.get("description") or None,
        runbook_url=annotations.get("runbook_url") or None,
        action=annotations.get("action") or None,
        generator_url=alert.generatorURL or None,
        starts_at=alert.startsAt,
        ends_at=ends_at,
        labels=dict(labels),
        annotations=dict(annotations),
    )


def facts_of(
    message: WebhookMessage, inventory: Inventory, extra_key_labels: Sequence[str] = ()
) -> list[AlertFacts]:
    """One entry per ticket key, in the order the keys first appear.

    Several alerts of one notification may share a key (e.g. they differ only in a label
    the key ignores); the fault fires while any of them fires, and its facts are those of
    the first firing one, so a half-resolved group never closes the ticket.
    """
    by_key: dict[str, AlertFacts] = {}
    for alert in message.alerts:
        facts = _facts(alert, inventory, extra_key_labels)
        known = by_key.get(facts.key)
        if known is None or (facts.firing and not known.firing):
            by_key[facts.key] = facts
    return list(by_key.values())
