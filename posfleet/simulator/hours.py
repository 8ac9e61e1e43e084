"""Store opening hours, local time and how busy a till is at each hour of the day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Relative customer traffic by local hour: a lunch peak and an evening peak.
HOURLY_TRAFFIC: tuple[float, ...] = (
    0.3, 0.2, 0.2, 0.2, 0.2, 0.3, 0.4, 0.5,
    0.6, 0.7, 0.8, 1.0, 1.6, 1.4, 0.9, 0.8,
    1.0, 1.4, 1.6, 1.3, 0.9, 0.6, 0.4, 0.3,
)  # fmt: skip
PEAK_TRAFFIC = max(HOURLY_TRAFFIC)


@dataclass(frozen=True, slots=True)
class OpeningSpan:
    """Hours on some weekdays; ``closes`` before ``opens`` runs past midnight."""

    days: tuple[str, ...]
    opens: time
    closes: time


@dataclass(slots=True)
class LocalTime:
    """Local time of one store, with the UTC offset cached per hour (DST-safe)."""

    timezone: str
    spans: tuple[OpeningSpan, ...]
    _zone: ZoneInfo = field(init=False)
    _offset_hour: int = field(default=-1, init=False)
    _offset: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._zone = ZoneInfo(self.timezone)

    def offset(self, at: float) -> float:
        hour = int(at // 3600)
        if hour != self._offset_hour:
            utc_offset = datetime.fromtimestamp(at, UTC).astimezone(self._zone).utcoffset()
            self._offset = utc_offset.total_seconds() if utc_offset else 0.0
            self._offset_hour = hour
        return self._offset

    def weekday_and_minute(self, at: float) -> tuple[int, float]:
        """Local weekday (0 = Monday) and minute of the day."""
        local = at + self.offset(at)
        days = int(local // 86400)
        # 1970-01-01 was a Thursday (weekday 3).
        return (days + 3) % 7, (local % 86400) / 60.0

    def is_open(self, at: float) -> bool:
        if not self.spans:
            return True
        weekday, minute = self.weekday_and_minute(at)
        for span in self.spans:
            opens = span.opens.hour * 60 + span.opens.minute
            closes = span.closes.hour * 60 + span.closes.minute
            today = WEEKDAYS[weekday]
            yesterday = WEEKDAYS[(weekday - 1) % 7]
            if closes > opens:
                if today in span.days and opens <= minute < closes:
                    return True
            elif (today in span.days and minute >= opens) or (
                yesterday in span.days and minute < closes
            ):
                return True
        return False

    def traffic(self, at: float) -> float:
        """Relative traffic now (0 when closed), at most :data:`PEAK_TRAFFIC`."""
        if not self.is_open(at):
            return 0.0
        _, minute = self.weekday_and_minute(at)
        return HOURLY_TRAFFIC[int(minute // 60) % 24]
