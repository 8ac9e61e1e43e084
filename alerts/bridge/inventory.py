"""What the fleet configuration says about the place of an alert: store name and address."""

from __future__ import annotations

from dataclasses import dataclass

from posfleet.config.models import PosfleetConfig, Store


@dataclass(frozen=True, slots=True)
class Place:
    """The store an alert is about, as the inventory knows it (all None when unknown)."""

    store: str | None = None
    store_name: str | None = None
    address: str | None = None
    merchant: str | None = None
    region: str | None = None


def format_address(store: Store) -> str | None:
    if store.address is None:
        return None
    address = store.address
    city = f"{address.postcode} {address.city}" if address.postcode else address.city
    return f"{address.street}, {city}, {address.country}"


class Inventory:
    """Stores by id and the store of every terminal, from the fleet config."""

    def __init__(self, config: PosfleetConfig | None = None) -> None:
        self._stores: dict[str, Store] = {}
        self._store_of_terminal: dict[str, str] = {}
        for store in config.stores if config else []:
            self._stores[store.id] = store
            for terminal in store.terminals:
                self._store_of_terminal[terminal.id] = store.id

    def place(self, labels: dict[str, str]) -> Place:
        """The store named by the labels, or the store the labelled terminal belongs to."""
        store_id = labels.get("store") or self._store_of_terminal.get(labels.get("terminal", ""))
        store = self._stores.get(store_id or "")
        if store is None:
            return Place(store=store_id or None)
        return Place(
            store=store.id,
            store_name=store.name,
            address=format_address(store),
            merchant=store.merchant,
            region=store.region,
        )
