"""The fleet model in motion: an event queue that steps terminals through simulated time.

Each terminal has a step (``tick``) every ``tick_seconds`` of simulated time, its next sale
and, when someone listens, its next status report; stores and merchants have uplink and
gateway outages. :meth:`Fleet.advance_to` processes everything due up to a time, in a fixed
order, so the same seed gives the same run however the caller slices time. Nothing here
reads the wall clock or does I/O: what happened waits in :meth:`Fleet.drain`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from posfleet.simulator.faults import Fault, FaultLog
from posfleet.simulator.fleet import FleetSpec, TerminalSpec
from posfleet.simulator.rng import stream
from posfleet.simulator.scenario import ScenarioError, ScriptedFault
from posfleet.simulator.snapshot import build_snapshot
from posfleet.simulator.terminal import (
    DAY,
    MerchantState,
    SimTerminal,
    StoreState,
    fault_duration,
)
from posfleet.simulator.traffic import next_sale_time
from posfleet.simulator.transactions import attempt_sale
from posfleet.telemetry import StatusSnapshot, TransactionEvent
from posfleet.validation import FieldError

# Event kinds, in the order they run when due at the same instant.
_SCRIPTED, _UPLINK, _UPLINK_END, _GATEWAY, _GATEWAY_END, _TICK, _SALE, _STATUS = range(8)
UPLINK_MEAN_SECONDS = 15 * DAY
GATEWAY_MEAN_SECONDS = 4 * DAY
_DEGRADING_KINDS = {
    "card_reader_degrading": "card_reader_degraded",
    "touch_degrading": "touch_degraded",
    "qr_scanner_degrading": "qr_scanner_degraded",
}
DEFAULT_RAMP_SECONDS = 3600.0
FAILED_OUTCOMES = frozenset(("declined", "failed", "timeout"))


@dataclass(slots=True)
class Emitted:
    """What happened since the last :meth:`Fleet.drain`."""

    statuses: list[tuple[TerminalSpec, StatusSnapshot]] = field(default_factory=list)
    transactions: list[tuple[TerminalSpec, TransactionEvent]] = field(default_factory=list)
    ground_truth: list[dict[str, Any]] = field(default_factory=list)


def mqtt_only(spec: TerminalSpec) -> bool:
    return spec.driver == "mqtt"


class Fleet:
    """The simulated fleet; step it with :meth:`advance_to`, read it with :meth:`snapshot`."""

    def __init__(
        self,
        spec: FleetSpec,
        start: float,
        *,
        scripted: Iterable[ScriptedFault] = (),
        tick_seconds: float = 60.0,
        status_interval: float = 60.0,
        reports_status: Callable[[TerminalSpec], bool] = mqtt_only,
        spontaneous_faults: bool = True,
    ) -> None:
        self.spec = spec
        self.spontaneous_faults = spontaneous_faults
        """False: only scripted faults and those the terminals' state leads to (see
        :attr:`posfleet.simulator.scenario.Scenario.spontaneous_faults`)."""
        self.now = start
        self.tick_seconds = tick_seconds
        self.status_interval = status_interval
        self.faults = FaultLog()
        seed = spec.parameters.seed
        merchants = {m.id: MerchantState(m) for m in spec.merchants}
        self.merchants = list(merchants.values())
        self.stores = [StoreState(s, merchants[s.merchant.id]) for s in spec.stores]
        store_by_id = {state.spec.id: state for state in self.stores}
        self.terminals = [
            SimTerminal(t, seed, start, store_by_id[t.store.id], self.faults,
                        spontaneous_faults=spontaneous_faults)
            for t in spec.terminals
        ]
        self.by_id = {terminal.spec.id: terminal for terminal in self.terminals}
        self._outbox = Emitted()
        self._queue: list[tuple[float, int, int]] = []
        self._scripted = sorted(scripted, key=lambda fault: fault.at)
        self._check_targets()
        self._uplink_rng = [stream(seed, s.spec.id, "uplink") for s in self.stores]
        self._gateway_rng = [stream(seed, m.spec.id, "gateway") for m in self.merchants]
        push = heapq.heappush
        for index, fault in enumerate(self._scripted):
            push(self._queue, (fault.at, _SCRIPTED, index))
        for index, rng in enumerate(self._uplink_rng):
            push(self._queue, (start + rng.expovariate(1 / UPLINK_MEAN_SECONDS), _UPLINK, index))
        for index, rng in enumerate(self._gateway_rng):
            at = start + rng.expovariate(1 / GATEWAY_MEAN_SECONDS)
            push(self._queue, (at, _GATEWAY, index))
        for index, terminal in enumerate(self.terminals):
            # Spread steps and reports over the interval so they do not all land at once.
            phase = (index * 0.6180339887) % 1.0
            push(self._queue, (start + phase * tick_seconds, _TICK, index))
            push(self._queue, (self._next_sale(terminal, start), _SALE, index))
            if reports_status(terminal.spec):
                push(self._queue, (start + phase * status_interval, _STATUS, index))

    def _check_targets(self) -> None:
        known = {
            "terminal": {t.id for t in self.spec.terminals},
            "store": {s.id for s in self.spec.stores},
            "merchant": {m.id for m in self.spec.merchants},
        }
        errors = []
        for fault in self._scripted:
            scope = (
                "store" if fault.kind == "uplink_down"
                else "merchant" if fault.kind == "gateway_outage" else "terminal"
            )
            if fault.target not in known[scope]:
                errors.append(FieldError(
                    (*fault.location, scope),
                    f"{scope} '{fault.target}' is not in the simulated fleet",
                ))
        if errors:
            raise ScenarioError("scenario", errors)

    def _next_sale(self, terminal: SimTerminal, after: float) -> float:
        return next_sale_time(
            terminal.rng, terminal.store.local, terminal.spec.traffic_per_hour, after
        )

    # --- stepping -------------------------------------------------------------------------

    def advance_to(self, until: float) -> None:
        """Process everything due up to ``until`` (simulated seconds since the epoch)."""
        queue = self._queue
        terminals = self.terminals
        pop, push = heapq.heappop, heapq.heappush
        while queue and queue[0][0] <= until:
            at, kind, index = pop(queue)
            self.now = at
            if kind == _TICK:
                terminals[index].tick(at, self.tick_seconds)
                push(queue, (at + self.tick_seconds, _TICK, index))
            elif kind == _SALE:
                terminal = terminals[index]
                self._sale(terminal, at)
                push(queue, (self._next_sale(terminal, at), _SALE, index))
            elif kind == _STATUS:
                terminal = terminals[index]
                if terminal.powered:
                    self._outbox.statuses.append((terminal.spec, build_snapshot(terminal, at)))
                push(queue, (at + self.status_interval, _STATUS, index))
            else:
                self._shared_event(at, kind, index)
        self.now = max(self.now, until)

    def _sale(self, terminal: SimTerminal, at: float) -> None:
        for data, fault in attempt_sale(terminal, at):
            event = TransactionEvent.model_validate(data)
            self._outbox.transactions.append((terminal.spec, event))
            if data["outcome"] in FAILED_OUTCOMES:
                self.faults.failed_transaction(data, fault)

    def _shared_event(self, at: float, kind: int, index: int) -> None:
        push = heapq.heappush
        if kind == _SCRIPTED:
            self._run_scripted(self._scripted[index], at)
        elif kind == _UPLINK:
            rng = self._uplink_rng[index]
            duration = fault_duration(rng, "uplink_down")  # drawn either way: same stream
            if self.spontaneous_faults:
                self._start_uplink(index, at, duration, scripted=False)
            push(self._queue, (at + rng.expovariate(1 / UPLINK_MEAN_SECONDS), _UPLINK, index))
        elif kind == _GATEWAY:
            rng = self._gateway_rng[index]
            duration = fault_duration(rng, "gateway_outage")
            if self.spontaneous_faults:
                self._start_gateway(index, at, duration, scripted=False)
            push(self._queue, (at + rng.expovariate(1 / GATEWAY_MEAN_SECONDS), _GATEWAY, index))
        elif kind == _UPLINK_END:
            store = self.stores[index]
            if store.uplink_fault is not None:
                self._end_shared(store.uplink_fault, at)
                store.uplink_fault = None
        elif kind == _GATEWAY_END:
            merchant = self.merchants[index]
            if merchant.gateway_fault is not None:
                self._end_shared(merchant.gateway_fault, at)
                merchant.gateway_fault = None

    def _end_shared(self, fault: Fault, at: float) -> None:
        self.faults.end(fault, at)

    def _start_uplink(self, index: int, at: float, duration: float, *, scripted: bool) -> None:
        store = self.stores[index]
        if store.uplink_fault is not None:
            return
        store.uplink_fault = self.faults.start(
            "uplink_down", at, store.spec.merchant.id, store.spec.id, scripted=scripted
        )
        heapq.heappush(self._queue, (at + duration, _UPLINK_END, index))

    def _start_gateway(self, index: int, at: float, duration: float, *, scripted: bool) -> None:
        merchant = self.merchants[index]
        if merchant.gateway_fault is not None:
            return
        merchant.gateway_fault = self.faults.start(
            "gateway_outage", at, merchant.spec.id, scripted=scripted
        )
        heapq.heappush(self._queue, (at + duration, _GATEWAY_END, index))

    def _run_scripted(self, fault: ScriptedFault, at: float) -> None:
        if fault.kind == "uplink_down":
            index = next(i for i, s in enumerate(self.stores) if s.spec.id == fault.target)
            rng = self._uplink_rng[index]
            duration = fault.duration or fault_duration(rng, "uplink_down")
            self._start_uplink(index, at, duration, scripted=True)
            return
        if fault.kind == "gateway_outage":
            index = next(i for i, m in enumerate(self.merchants) if m.spec.id == fault.target)
            rng = self._gateway_rng[index]
            duration = fault.duration or fault_duration(rng, "gateway_outage")
            self._start_gateway(index, at, duration, scripted=True)
            return
        terminal = self.by_id[fault.target]
        if fault.kind in _DEGRADING_KINDS:
            ramp = fault.duration or DEFAULT_RAMP_SECONDS
            terminal.start_degrading(_DEGRADING_KINDS[fault.kind], at, ramp, scripted=True)
        elif fault.kind == "paper_near_end":
            if terminal.printer is not None:
                roll = terminal.printer.roll
                roll.remaining_m = min(roll.remaining_m, roll.near_end_at_m)
                terminal.printer_faults([], at)
        elif fault.kind in ("paper_out", "paper_jam", "cutter_error", "cover_open",
                            "over_temperature") and terminal.printer is None:
            return  # a terminal without a printer cannot run out of paper
        else:
            duration = fault.duration or fault_duration(terminal.rng, fault.kind)
            terminal.start_fault(fault.kind, at, duration, scripted=True)

    # --- reading --------------------------------------------------------------------------

    def snapshot(self, terminal_id: str) -> StatusSnapshot | None:
        """The terminal's status now, or None when it is switched off or rebooting."""
        terminal = self.by_id[terminal_id]
        if not terminal.powered and terminal.spec.driver != "escpos":
            return None
        return build_snapshot(terminal, self.now)

    def drain(self) -> Emitted:
        """Statuses, transactions and ground-truth lines produced since the last call."""
        out = self._outbox
        out.ground_truth = self.faults.drain()
        self._outbox = Emitted()
        return out
