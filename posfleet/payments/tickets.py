"""One urgent ticket per charged-but-failed case, through the ticket bridge or its store.

A case becomes an Alertmanager-shaped alert (``ChargedButFailedSuspected``, severity
critical, team it, component payments, with the terminal, store and ``case`` labels): the
bridge keys tickets on alertname, component, terminal and the ``case`` label, so every case
gets its own ticket, and a resolved alert closes it. Without a bridge URL the same alert is
applied straight to the bridge's ticket store (same database, same key).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import aiohttp

from posfleet.alerts.bridge.intake import facts_of
from posfleet.alerts.bridge.inventory import Inventory
from posfleet.alerts.bridge.payload import WebhookMessage
from posfleet.alerts.bridge.store import TicketStore
from posfleet.payments.model import Case, CaseKind, CaseStatus

ALERT_NAME: Final = "ChargedButFailedSuspected"
WEBHOOK_PATH: Final = "/api/v1/alertmanager"
RUNBOOK: Final = "docs/payments.md#runbook-chargedbutfailedsuspected"
"""Not under docs/runbooks: that folder holds the Prometheus rules' runbooks, one per rule."""
_NO_END: Final = "0001-01-01T00:00:00Z"

_WHY: Final[dict[CaseKind, str]] = {
    CaseKind.REVERSAL_UNCONFIRMED: "no reversal was confirmed in time",
    CaseKind.REVERSAL_PENDING_IDLE: (
        "its reversal is still queued on the terminal, which has sent nothing since"
    ),
    CaseKind.REVERSAL_FAILED: "the terminal gave up reversing it",
    CaseKind.NEAR_DUPLICATE: (
        "no reversal was confirmed and the same card was charged the same amount again "
        "minutes later: the customer may have paid twice"
    ),
}


class TicketError(Exception):
    """A ticket could not be delivered now; it stays due and is tried again."""


class TicketChannel(Protocol):
    """Where case tickets go."""

    async def send(self, case: Case, firing: bool) -> None: ...

    async def close(self) -> None: ...


def money(amount_minor: int, currency: str) -> str:
    """12.50 EUR from 1250 (two decimals; JPY-like currencies are rare in this fleet)."""
    return f"{amount_minor // 100}.{amount_minor % 100:02d} {currency}"


def alert_of(case: Case, firing: bool, public_url: str = "") -> dict[str, Any]:
    """The Alertmanager v4 alert for a case."""
    sale = case.sale
    when = sale.occurred_at.isoformat().replace("+00:00", "Z")
    reference = ", ".join(
        part
        for part in (
            f"STAN {sale.stan}" if sale.stan else "",
            f"RRN {sale.rrn}" if sale.rrn else "",
            f"card {sale.masked_pan}" if sale.masked_pan else "",
        )
        if part
    )
    runbook = f"{public_url.rstrip('/')}/{RUNBOOK}" if public_url else RUNBOOK
    ends = _NO_END if firing else (case.closed_at or case.opened_at).isoformat()
    return {
        "status": "firing" if firing else "resolved",
        "labels": {
            "alertname": ALERT_NAME,
            "severity": "critical",
            "team": "it",
            "component": "payments",
            "terminal": sale.terminal_id,
            "store": sale.store_id,
            "merchant": sale.merchant_id,
            "region": case.region,
            "case": case.case_id,
            "kind": case.kind.value,
        },
        "annotations": {
            "summary": (
                f"Terminal {sale.terminal_id}: customer possibly charged "
                f"{money(sale.amount_minor, sale.currency)} for a sale shown as failed"
            ),
            "description": (
                f"Sale {sale.transaction_id} at {when} ({sale.outcome}"
                f"{', ' + reference if reference else ''}): {_WHY[case.kind]}. "
                f"Case {case.case_id}."
            ),
            "action": (
                "IT: get the terminal online so it sends its queued reversal, or have the "
                "acquirer reverse or refund the sale; import the acquirer's settlement file "
                f"with 'posfleet reconcile'. Evidence: 'posfleet cases export {case.case_id}'."
            ),
            "runbook_url": runbook,
        },
        "startsAt": case.opened_at.isoformat(),
        "endsAt": ends,
        "generatorURL": "",
        "fingerprint": case.case_id,
    }


def message_of(alerts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An Alertmanager v4 webhook notification carrying ``alerts``."""
    firing = any(alert["status"] == "firing" for alert in alerts)
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{ALERT_NAME}"}}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "posfleet-payments",
        "groupLabels": {"alertname": ALERT_NAME},
        "commonLabels": {"alertname": ALERT_NAME, "component": "payments"},
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": list(alerts),
    }


class BridgeWebhook:
    """Posts case alerts to the ticket bridge's Alertmanager webhook with a bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        public_url: str = "",
        timeout_seconds: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + WEBHOOK_PATH
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._public_url = public_url
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session = session
        self._own_session = session is None

    async def send(self, case: Case, firing: bool) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        body = message_of([alert_of(case, firing, self._public_url)])
        try:
            async with self._session.post(self._url, json=body, headers=self._headers) as reply:
                if reply.status >= 300:
                    text = (await reply.text())[:200]
                    raise TicketError(f"ticket bridge answered {reply.status}: {text}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TicketError(f"ticket bridge unreachable: {exc or type(exc).__name__}") from exc

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()


class TicketStoreChannel:
    """Applies case alerts straight to the bridge's ticket store (no bridge running).

    The bridge process, when started later, delivers the outbox to the ticketing systems.
    """

    def __init__(
        self,
        store: TicketStore,
        inventory: Inventory,
        extra_key_labels: Sequence[str] = (),
        *,
        public_url: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._inventory = inventory
        self._extra = tuple(extra_key_labels)
        self._public_url = public_url
        self._clock = clock

    async def send(self, case: Case, firing: bool) -> None:
        message = WebhookMessage.model_validate(
            message_of([alert_of(case, firing, self._public_url)])
        )
        facts = facts_of(message, self._inventory, self._extra)
        try:
            for fact in facts:
                await asyncio.to_thread(self._store.apply, fact, self._clock())
        except Exception as exc:
            raise TicketError(f"ticket store: {exc}") from exc

    async def close(self) -> None:
        await asyncio.to_thread(self._store.dispose)


def is_firing(case: Case) -> bool:
    return case.status is CaseStatus.OPEN
