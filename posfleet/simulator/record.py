"""The ``--record`` trace: every status snapshot and transaction event, one per line, with a
``type`` key (``status`` or ``transaction``) beside the message's own fields."""

from __future__ import annotations

from posfleet.simulator.engine import Emitted


def trace_lines(emitted: Emitted) -> list[str]:
    """JSON lines for everything in ``emitted``, snapshots first (as the model made them)."""
    lines = [
        '{"type":"status",' + snapshot.model_dump_json(exclude_none=True)[1:]
        for _, snapshot in emitted.statuses
    ]
    lines += [
        '{"type":"transaction",' + event.model_dump_json(exclude_none=True)[1:]
        for _, event in emitted.transactions
    ]
    return lines
