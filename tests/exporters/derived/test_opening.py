"""Opening hours in the store's time zone, including hours past midnight."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from posfleet.config.models import Store
from posfleet.exporters.derived.opening import is_open, store_zone


def _store(hours: list[dict[str, Any]], timezone: str = "Europe/Berlin") -> Store:
    return Store.model_validate(
        {
            "id": "S-012",
            "merchant": "acme",
            "name": "Mitte",
            "region": "eu-west",
            "timezone": timezone,
            "opening_hours": hours,
        }
    )


WEEKDAYS = {"days": ["mon", "tue", "wed", "thu", "fri"], "opens": "08:00", "closes": "20:00"}
LATE = {"days": ["fri", "sat"], "opens": "18:00", "closes": "02:00"}


@pytest.mark.parametrize(
    ("utc", "hours", "expected"),
    [
        # Wednesday 25 Nov 2026, 07:30 UTC is 08:30 in Berlin.
        (datetime(2026, 11, 25, 7, 30, tzinfo=UTC), [WEEKDAYS], True),
        (datetime(2026, 11, 25, 6, 30, tzinfo=UTC), [WEEKDAYS], False),
        (datetime(2026, 11, 25, 19, 0, tzinfo=UTC), [WEEKDAYS], False),  # 20:00 local
        (datetime(2026, 11, 28, 10, 0, tzinfo=UTC), [WEEKDAYS], False),  # Saturday
        # Saturday 01:00 Berlin belongs to Friday's late hours; Sunday 01:00 to Saturday's.
        (datetime(2026, 11, 28, 0, 0, tzinfo=UTC), [LATE], True),
        (datetime(2026, 11, 29, 0, 0, tzinfo=UTC), [LATE], True),
        (datetime(2026, 11, 30, 0, 0, tzinfo=UTC), [LATE], False),  # Monday 01:00
        (datetime(2026, 11, 30, 3, 0, tzinfo=UTC), [], True),  # no hours: always open
    ],
)
def test_open_during_local_hours(
    utc: datetime, hours: list[dict[str, Any]], expected: bool
) -> None:
    assert is_open(_store(hours), utc) is expected


def test_the_same_instant_differs_by_time_zone() -> None:
    instant = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, 02:00 in Berlin
    assert is_open(_store([WEEKDAYS], "Asia/Shanghai"), instant)
    assert not is_open(_store([WEEKDAYS]), instant)


def test_an_unknown_time_zone_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="store S-012: timezone 'Mars/Olympus'"):
        store_zone(_store([], "Mars/Olympus"))
