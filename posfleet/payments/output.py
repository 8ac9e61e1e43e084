"""Build the case engine, its classifier and its ticket channel from a configuration.

Opening the databases blocks: call :func:`case_engine_from_config` before the event loop
starts, or through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from posfleet.alerts.bridge.inventory import Inventory
from posfleet.alerts.bridge.store import TicketStore
from posfleet.config.models import PosfleetConfig
from posfleet.payments.cases import CaseEngine
from posfleet.payments.classification import Classifier
from posfleet.payments.store import CaseStore
from posfleet.payments.tickets import BridgeWebhook, TicketChannel, TicketStoreChannel


def classifier_from_config(config: PosfleetConfig) -> Classifier:
    """The classifier of ``config.payments`` (raises TableError naming the setting)."""
    return Classifier.from_settings(
        config.payments, ((merchant.id, merchant.acquirer) for merchant in config.merchants)
    )


def ticket_channel_from_config(config: PosfleetConfig) -> TicketChannel:
    """The bridge's webhook when ``payments.tickets_url`` is set, else its ticket store."""
    settings = config.payments
    if settings.tickets_url:
        token = settings.tickets_token.get_secret_value() if settings.tickets_token else None
        return BridgeWebhook(settings.tickets_url, token, public_url=settings.public_url)
    store = TicketStore.open(
        config.tickets.database, busy_timeout_seconds=config.tickets.busy_timeout_seconds
    )
    store.create_schema()
    return TicketStoreChannel(
        store, Inventory(config), config.tickets.extra_key_labels, public_url=settings.public_url
    )


def case_engine_from_config(
    config: PosfleetConfig,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    tickets: TicketChannel | None = None,
) -> CaseEngine:
    """The case engine for ``config`` (blocking: opens the case and ticket databases)."""
    settings = config.payments
    return CaseEngine(
        settings,
        CaseStore.open(settings.database),
        classifier_from_config(config),
        tickets=tickets if tickets is not None else ticket_channel_from_config(config),
        regions={store.id: store.region for store in config.stores},
        clock=clock,
    )
