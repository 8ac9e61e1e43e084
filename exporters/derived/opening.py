"""Whether a store is open at a given moment, from its opening hours and time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from posfleet.config.models import Store

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def store_zone(store: Store) -> ZoneInfo:
    """The store's time zone; raises ValueError naming the store if it is unknown."""
    try:
        return ZoneInfo(store.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"store {store.id}: timezone '{store.timezone}' is not an IANA time zone"
        ) from None


def is_open(store: Store, at: datetime, zone: ZoneInfo | None = None) -> bool:
    """True during the store's opening hours at ``at`` (aware); a store without opening
    hours is always open. Hours whose closing time is not after the opening time run past
    midnight into the next day (equal times: open around the clock on those days)."""
    if not store.opening_hours:
        return True
    local = at.astimezone(zone or store_zone(store))
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local - timedelta(days=1)).weekday()]
    now = local.time()
    for hours in store.opening_hours:
        if hours.opens < hours.closes:
            if today in hours.days and hours.opens <= now < hours.closes:
                return True
            continue
        if today in hours.days and now >= hours.opens:
            return True
        if yesterday in hours.days and now < hours.closes:
            return True
    return False
