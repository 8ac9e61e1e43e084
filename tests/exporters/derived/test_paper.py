"""Time to empty: from the near-end remainder and the recent print rate, never guessed."""

from __future__ import annotations

import pytest

from posfleet.config.models import AlertingSettings
from posfleet.exporters.derived.paper import PaperForecaster
from tests.exporters.derived.support import START, snapshot

NOW = START.timestamp()


def _forecaster(**settings: object) -> PaperForecaster:
    return PaperForecaster(
        AlertingSettings.model_validate({"paper_near_end_lines": 250, **settings})
    )


def _estimates(forecaster: PaperForecaster, minute: float) -> dict[str, float]:
    now = NOW + minute * 60
    return {f.terminal: f.seconds_to_empty for f in forecaster.forecasts(now)}


def test_a_steady_seller_gets_the_remaining_lines_over_its_print_rate() -> None:
    forecaster = _forecaster()
    # 10 lines a minute for 20 minutes, the sensor trips at minute 20, then 5 more minutes.
    for minute in range(21):
        forecaster.observe(snapshot(minute, 10 * minute))
    for minute in range(21, 26):
        forecaster.observe(snapshot(minute, 10 * minute, "near_end"))
    # Tripped between minute 20 (200 lines) and 21; 50 lines printed since: 200 left at
    # 10 lines a minute.
    assert _estimates(forecaster, 25) == {"T-0451": pytest.approx(20 * 60)}


def test_the_model_specific_remainder_wins() -> None:
    forecaster = _forecaster(paper_near_end_lines_by_model={"TM-T88VI": 500})
    for minute in range(11):
        forecaster.observe(snapshot(minute, 10 * minute, model="TM-T88VI"))
    forecaster.observe(snapshot(11, 110, "near_end", model="TM-T88VI"))
    assert _estimates(forecaster, 11) == {"T-0451": pytest.approx((500 - 10) / 10 * 60)}


def test_no_estimate_without_a_seen_trip_history_or_sales() -> None:
    started_near_end = _forecaster()
    for minute in range(20):
        started_near_end.observe(snapshot(minute, 10 * minute, "near_end"))
    assert _estimates(started_near_end, 20) == {}

    too_short = _forecaster()
    too_short.observe(snapshot(0, 0))
    too_short.observe(snapshot(1, 10, "near_end"))
    assert _estimates(too_short, 1) == {}

    no_sales = _forecaster()
    for minute in range(10):
        no_sales.observe(snapshot(minute, 0))
    no_sales.observe(snapshot(10, 0, "near_end"))
    assert _estimates(no_sales, 10) == {}


def test_the_estimate_expires_with_old_data_and_goes_with_a_new_roll() -> None:
    forecaster = _forecaster()
    for minute in range(11):
        forecaster.observe(snapshot(minute, 10 * minute))
    forecaster.observe(snapshot(11, 110, "near_end"))
    assert _estimates(forecaster, 11)
    assert _estimates(forecaster, 11 + 16) == {}
    forecaster.observe(snapshot(12, 120, "ok"))
    assert _estimates(forecaster, 12) == {}


def test_a_counter_reset_starts_over_instead_of_inventing_a_rate() -> None:
    forecaster = _forecaster()
    for minute in range(11):
        forecaster.observe(snapshot(minute, 1000 + 10 * minute))
    forecaster.observe(snapshot(11, 5, "near_end"))
    assert _estimates(forecaster, 11) == {}


def test_the_rate_follows_the_recent_pace() -> None:
    forecaster = _forecaster(print_rate_window_seconds=300)
    lines = 0
    for minute in range(60):  # an hour at 2 lines a minute
        lines += 2
        forecaster.observe(snapshot(minute, lines))
    for minute in range(60, 90):  # the lunch rush: 20 lines a minute
        lines += 20
        forecaster.observe(snapshot(minute, lines))
    forecaster.observe(snapshot(90, lines + 20, "near_end"))
    (estimate,) = _estimates(forecaster, 90).values()
    # 230 lines left at about 20 a minute: the slow hour before barely counts.
    assert estimate == pytest.approx(230 / 20 * 60, rel=0.05)
