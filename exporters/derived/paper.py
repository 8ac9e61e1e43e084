"""How long until a receipt roll runs out, from the near-end sensor and the print rate.

When the near-end sensor trips, a roll still holds a known length of paper (a setting, per
printer model). The forecaster counts the lines printed since the trip and divides what is
left by the terminal's recent print rate. The rate is an exponentially weighted average of
the increase of ``receipt_lines_printed_total`` between snapshots, with a time constant of
``print_rate_window_seconds``: it follows the last quarter hour of sales like a window
would, in constant memory per terminal (20,000 terminals x a window of snapshots would not).

The estimate is absent whenever it would be a guess: before enough printing history, when
the trip was not seen (the collector started with the roll already near its end), when
nothing is printed (the paper lasts indefinitely), when the paper is out, or when the
terminal's data is older than the window.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from posfleet.config.models import AlertingSettings
from posfleet.telemetry import PaperState, StatusSnapshot


@dataclass(frozen=True, slots=True)
class PaperForecast:
    """One terminal's estimate, with its identity labels."""

    terminal: str
    store: str
    merchant: str
    region: str
    seconds_to_empty: float


@dataclass(slots=True)
class _Roll:
    store: str
    merchant: str
    region: str
    model: str | None
    last_at: float
    last_lines: float
    paper: PaperState | None
    history_seconds: float = 0.0
    lines_per_second: float | None = None
    lines_at_near_end: float | None = None
    """Lines counter when the near-end trip was seen; None if it was not seen."""


class PaperForecaster:
    """Follows every terminal's printing and paper state from its snapshots."""

    def __init__(self, settings: AlertingSettings) -> None:
        self._settings = settings
        self._rolls: dict[str, _Roll] = {}

    def observe(self, snapshot: StatusSnapshot) -> None:
        """Take in a terminal's new snapshot (older or repeated snapshots are ignored)."""
        printer = snapshot.printer
        if printer is None or printer.receipt_lines_printed_total is None:
            return
        at = snapshot.observed_at.timestamp()
        lines = float(printer.receipt_lines_printed_total)
        roll = self._rolls.get(snapshot.terminal_id)
        if roll is None:
            self._rolls[snapshot.terminal_id] = _Roll(
                snapshot.store_id,
                snapshot.merchant_id,
                snapshot.region or "",
                snapshot.model,
                at,
                lines,
                printer.paper,
            )
            return
        elapsed = at - roll.last_at
        if elapsed <= 0:
            return
        if lines < roll.last_lines:
            # The counter restarted (terminal reset): start over rather than invent a rate.
            roll.history_seconds = 0.0
            roll.lines_per_second = None
            roll.lines_at_near_end = None
        else:
            rate = (lines - roll.last_lines) / elapsed
            weight = 1.0 - math.exp(-elapsed / self._settings.print_rate_window_seconds)
            previous = roll.lines_per_second
            roll.lines_per_second = (
                rate if previous is None else previous + weight * (rate - previous)
            )
            roll.history_seconds += elapsed
        self._follow_paper(roll, printer.paper, lines)
        roll.last_at, roll.last_lines, roll.model = at, lines, snapshot.model

    @staticmethod
    def _follow_paper(roll: _Roll, paper: PaperState | None, lines: float) -> None:
        if paper is PaperState.NEAR_END and roll.paper is PaperState.OK:
            roll.lines_at_near_end = roll.last_lines
        elif paper is not PaperState.NEAR_END:
            roll.lines_at_near_end = None
        roll.paper = paper

    def near_end_lines(self, model: str | None) -> int:
        """Lines left on a roll when its near-end sensor trips, for a printer model."""
        by_model = self._settings.paper_near_end_lines_by_model
        if model is not None and model in by_model:
            return by_model[model]
        return self._settings.paper_near_end_lines

    def forecasts(self, now: float) -> Iterator[PaperForecast]:
        """Estimates for the terminals that have one at ``now`` (Unix time)."""
        settings = self._settings
        for terminal, roll in self._rolls.items():
            rate = roll.lines_per_second
            if (
                roll.paper is not PaperState.NEAR_END
                or roll.lines_at_near_end is None
                or rate is None
                or rate <= 0
                or roll.history_seconds < settings.print_rate_min_history_seconds
                or now - roll.last_at > settings.print_rate_window_seconds
            ):
                continue
            printed = roll.last_lines - roll.lines_at_near_end
            left = max(0.0, self.near_end_lines(roll.model) - printed)
            yield PaperForecast(terminal, roll.store, roll.merchant, roll.region, left / rate)
