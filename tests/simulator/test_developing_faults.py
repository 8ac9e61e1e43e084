"""Faults that develop before they fail payments, as a user of the backtest sees them: the
status counters move first, the failed sales come later and name the fault behind them,
and the developing conditions are in the ground truth from their start to their end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from posfleet.simulator.engine import Emitted, Fleet
from posfleet.simulator.fleet import FleetParameters, generate_fleet
from posfleet.simulator.network import SIM_PLAN_BYTES
from posfleet.simulator.paper import PaperRoll
from posfleet.simulator.terminal import SimTerminal
from posfleet.simulator.transactions import attempt_sale
from posfleet.telemetry import PaperState, StatusSnapshot
from tests.simulator.helpers import HOUR, START, ground_truth

_CUSTOMER_READ_ERRORS = frozenset(("card_removed_early", "card_read_error",
                                   "contactless_collision", "qr_decode_error"))
"""Errors of a failed read: the card's or customer's (one failed read each, no retry) or,
with the fault named, a worn reader's."""
NEW_RANDOM_KINDS = frozenset(("congestion_burst", "printer_wear", "signal_fading",
                              "link_unstable"))


def _fleet(terminals: int = 30, seed: int = 1, *, spontaneous: bool = True) -> Fleet:
    spec = generate_fleet(FleetParameters(terminals=terminals, stores=10, merchants=3,
                                          seed=seed))
    return Fleet(spec, START, reports_status=lambda _spec: False,
                 spontaneous_faults=spontaneous)


def _time(value: object) -> float:
    assert isinstance(value, str)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _open_all_along(
    fleet: Fleet, hours: float, fits: Callable[[SimTerminal], bool]
) -> list[SimTerminal]:
    """Terminals (not bare printers) that fit, whose store is open for ``hours`` and whose
    SIM, if any, is not about to run dry (an exhausted SIM would fail every sale)."""
    return [
        t for t in fleet.terminals
        if fits(t) and t.spec.driver != "escpos"
        and (t.network.sim_remaining_bytes or SIM_PLAN_BYTES) >= SIM_PLAN_BYTES // 10
        and all(t.store.local.is_open(START + h * HOUR) for h in range(int(hours) + 1))
    ]


def _busiest(fleet: Fleet, hours: float, fits: Callable[[SimTerminal], bool]) -> SimTerminal:
    """The terminal with the most traffic among those that fit and stay open ``hours``."""
    candidates = _open_all_along(fleet, hours, fits)
    assert candidates, "the fleet has no terminal for this test: pick another seed"
    return max(candidates, key=lambda t: t.spec.traffic_per_hour)


def _watch_all(
    fleet: Fleet, terminals: list[SimTerminal], seconds: float, step: float
) -> tuple[dict[str, list[StatusSnapshot]], list[Emitted]]:
    """Run ``fleet`` and take the status of each of ``terminals`` after every ``step``."""
    statuses: dict[str, list[StatusSnapshot]] = {t.spec.id: [] for t in terminals}
    batches: list[Emitted] = []
    target = fleet.now + seconds
    while fleet.now < target:
        fleet.advance_to(min(target, fleet.now + step))
        batches.append(fleet.drain())
        for terminal_id, snapshots in statuses.items():
            snapshot = fleet.snapshot(terminal_id)
            if snapshot is not None:  # None while it reboots
                snapshots.append(snapshot)
    return statuses, batches


def _watch(
    fleet: Fleet, terminal: SimTerminal, seconds: float, step: float = 60.0
) -> tuple[list[StatusSnapshot], list[Emitted]]:
    """Run ``fleet`` and take ``terminal``'s status after every ``step``."""
    statuses, batches = _watch_all(fleet, [terminal], seconds, step)
    return statuses[terminal.spec.id], batches


def _lines(batches: list[Emitted], fleet: Fleet, kind: str) -> list[dict[str, object]]:
    return [line for line in ground_truth(batches, fleet) if line["type"] == kind]


def _failures_of(
    batches: list[Emitted], fleet: Fleet, terminal: SimTerminal
) -> list[dict[str, object]]:
    return [line for line in _lines(batches, fleet, "failed_transaction")
            if line["terminal_id"] == terminal.spec.id]


def _failed_reads(snapshot: StatusSnapshot) -> int:
    reader = snapshot.card_reader
    assert reader is not None
    counters = (reader.chip_reads_failed_total, reader.magstripe_reads_failed_total,
                reader.contactless_reads_failed_total)
    assert None not in counters, "the simulator reports every counter"
    return sum(count or 0 for count in counters)


def _flaps(snapshot: StatusSnapshot) -> int:
    network = snapshot.network
    assert network is not None
    assert network.link_flaps_total is not None
    return network.link_flaps_total


def _failed_cuts(snapshot: StatusSnapshot) -> int:
    printer = snapshot.printer
    assert printer is not None
    assert printer.failed_cuts_total is not None
    return printer.failed_cuts_total


# --- card reader ------------------------------------------------------------------------


def test_a_degrading_card_reader_fails_reads_long_before_it_fails_a_sale() -> None:
    fleet = _fleet(60, spontaneous=False)
    terminals = _open_all_along(fleet, 8, lambda t: True)[:8]
    ramp = 8 * HOUR
    faults = {}
    for terminal in terminals:
        terminal.start_degrading("card_reader_degraded", START, ramp, scripted=True)
        faults[terminal.spec.id] = terminal.faults["card_reader_degraded"].id
    statuses, batches = _watch_all(fleet, terminals, ramp, step=300.0)

    failures = _lines(batches, fleet, "failed_transaction")
    leads = []
    early_reads = early_sales = 0
    for terminal in terminals:
        mine = [line for line in failures if line["terminal_id"] == terminal.spec.id]
        by_reader = [line for line in mine if line["fault_id"] == faults[terminal.spec.id]]
        assert by_reader, "a reader failing outright fails sales"
        assert {line["local_error"] for line in by_reader} == {"card_read_error"}
        assert all(line["fault_kind"] == "card_reader_degraded" for line in by_reader)
        snapshots = statuses[terminal.spec.id]
        first_rise = next(s.observed_at.timestamp() for s in snapshots
                          if _failed_reads(s) > _failed_reads(snapshots[0]))
        leads.append(min(_time(line["occurred_at"]) for line in by_reader) - first_rise)

        # In the first half of the ramp the retries hide most of the reader's failures.
        half = START + ramp / 2
        early = [line for line in mine if _time(line["occurred_at"]) < half]
        by_customer = sum(1 for line in early if line["fault_id"] is None
                          and line["local_error"] in _CUSTOMER_READ_ERRORS)
        failed_sales = sum(1 for line in early if line["fault_id"] == faults[terminal.spec.id])
        at_half = [s for s in snapshots if s.observed_at.timestamp() <= half][-1]
        early_reads += _failed_reads(at_half) - _failed_reads(snapshots[0]) - by_customer
        early_sales += failed_sales
    assert early_sales > 0
    assert early_reads >= 5 * early_sales  # one each, were there no retries
    leads.sort()
    assert leads[len(leads) // 4] > 0.0, "the counters nearly always move first"
    assert leads[len(leads) // 2] >= HOUR


def test_every_failed_read_attempt_is_counted_and_a_dead_reader_costs_three() -> None:
    fleet = _fleet(spontaneous=False)
    terminal = _busiest(fleet, 0, lambda t: True)
    terminal.start_degrading("card_reader_degraded", START - 2.0, 1.0, scripted=True)
    terminal.start_degrading("qr_scanner_degraded", START - 2.0, 1.0, scripted=True)
    terminal.printer = None  # no receipts, so nothing but the reader stops a sale
    before = sum(terminal.reader_counts[1::2]) + terminal.qr_counts[1]
    ok_before = sum(terminal.reader_counts[0::2]) + terminal.qr_counts[0]
    by_fault = by_customer = 0
    for minute in range(400):
        for event, fault in attempt_sale(terminal, START + 60.0 * minute):
            if event["local_error"] in _CUSTOMER_READ_ERRORS:
                if fault is None:
                    by_customer += 1
                else:
                    assert fault.kind in ("card_reader_degraded", "qr_scanner_degraded")
                    by_fault += 1
    after = sum(terminal.reader_counts[1::2]) + terminal.qr_counts[1]
    assert by_fault > 100
    assert after - before == 3 * by_fault + by_customer  # the first read and two retries
    assert sum(terminal.reader_counts[0::2]) + terminal.qr_counts[0] == ok_before


# --- printer wear -----------------------------------------------------------------------


def test_printer_wear_shows_failed_cuts_before_the_printer_stops() -> None:
    fleet = _fleet(60)
    terminals = _open_all_along(fleet, 8, lambda t: t.printer is not None)[:8]
    wear: dict[str, str] = {}
    failed_cuts_at_start: dict[str, int] = {}
    for terminal in terminals:
        assert terminal.printer is not None
        terminal.printer.cuts_since_service = 0  # clean: what follows is the wear fault's
        failed_cuts_at_start[terminal.spec.id] = terminal.printer.failed_cuts_total
        terminal.start_degrading("printer_wear", START, 6 * HOUR, scripted=False,
                                 lasts_after=2 * HOUR)
        wear[terminal.spec.id] = terminal.faults["printer_wear"].id
    statuses, batches = _watch_all(fleet, terminals, 8 * HOUR + 120.0, step=120.0)

    faults = _lines(batches, fleet, "fault")
    warned_by = []
    for terminal in terminals:
        stops = [_time(line["start"]) for line in faults
                 if line["terminal_id"] == terminal.spec.id
                 and line["kind"] in ("cutter_error", "paper_jam")]
        assert stops, "a fully worn mechanism jams or its cutter sticks"
        before = [_failed_cuts(s) for s in statuses[terminal.spec.id]
                  if s.observed_at.timestamp() < min(stops)]
        warned_by.append(before[-1] - failed_cuts_at_start[terminal.spec.id] if before else 0)
        [ended] = [line for line in faults if line["id"] == wear[terminal.spec.id]]
        assert ended["end"] is not None, "the technician came"
        assert terminal.severity("printer_wear", fleet.now) == 0.0
    warned_by.sort()
    assert sum(warned_by) >= 3 * len(warned_by)
    assert warned_by[len(warned_by) // 4] >= 1, "most printers miscut before they stop"


def test_servicing_a_worn_printer_resets_its_cuts_since_service() -> None:
    fleet = _fleet()
    terminal = next(t for t in fleet.terminals if t.printer is not None)
    printer = terminal.printer
    assert printer is not None
    printer.cuts_since_service = 45_000
    terminal.start_degrading("printer_wear", START, HOUR, scripted=False, lasts_after=HOUR)
    terminal.tick(terminal.repairs["printer_wear"], 60.0)
    assert "printer_wear" not in terminal.faults
    assert printer.cuts_since_service == 0


# --- link_unstable ----------------------------------------------------------------------


def test_an_unstable_link_drops_again_and_again_and_fails_sales_while_down() -> None:
    fleet = _fleet(spontaneous=False)
    terminal = _busiest(fleet, 7, lambda t: t.network.baseline_dbm is not None)
    terminal.drops_per_minute = 1.0 / 5.0
    unstable = terminal.start_fault("link_unstable", START, 6 * HOUR)
    snapshots, batches = _watch(fleet, terminal, 7 * HOUR)

    during = [s for s in snapshots if s.observed_at.timestamp() < START + 6 * HOUR]
    after = [s for s in snapshots if s.observed_at.timestamp() > START + 6 * HOUR + 120.0]
    flaps = [_flaps(s) for s in snapshots]
    assert flaps[len(during) - 1] - flaps[0] >= 20
    assert flaps[-1] == flaps[len(snapshots) - len(after)], "stable once the fault ended"
    down = [s for s in during if s.network is not None and not s.network.link_up]
    assert down, "a status taken during a drop shows the link down"
    assert all(s.network is not None and s.network.link_up for s in after)

    lost = [line for line in _failures_of(batches, fleet, terminal)
            if line["local_error"] == "network_down"]
    assert len(lost) >= 3
    assert all(line["fault_id"] == unstable.id for line in lost)
    assert all(_time(line["occurred_at"]) <= START + 6 * HOUR for line in lost)


# --- signal_fading ----------------------------------------------------------------------


def test_a_fading_signal_sinks_and_the_timeouts_and_drops_name_it() -> None:
    fleet = _fleet(60, spontaneous=False)
    terminals = _open_all_along(fleet, 8, lambda t: t.spec.interface == "cellular")[:4]
    fading = {}
    for terminal in terminals:
        link = terminal.network
        # The weakest spot an installer would accept, fading as deep as the model lets it.
        link.baseline_dbm = link.signal_dbm = -94.0
        terminal.fade_depth_db = 30.0
        terminal.start_degrading("signal_fading", START, 2 * HOUR, scripted=False,
                                 lasts_after=6 * HOUR)
        fading[terminal.spec.id] = terminal.faults["signal_fading"].id
    statuses, batches = _watch_all(fleet, terminals, 8 * HOUR, step=60.0)

    for terminal in terminals:
        snapshots = statuses[terminal.spec.id]
        signal = [s.network.signal_dbm for s in snapshots
                  if s.network is not None and s.network.signal_dbm is not None]
        assert signal[0] > -100.0
        faded = signal[len(signal) // 2:]
        assert sum(faded) / len(faded) < -115.0
        flaps = [_flaps(s) for s in snapshots]
        assert flaps[-1] - flaps[0] >= 10, "a radio far below the edge keeps losing the link"

    network = [line for line in _lines(batches, fleet, "failed_transaction")
               if line["local_error"] in ("network_timeout", "network_down")
               and line["terminal_id"] in fading]
    assert {line["local_error"] for line in network} == {"network_timeout", "network_down"}
    assert all(line["fault_id"] == fading[str(line["terminal_id"])] for line in network)


def test_timeouts_in_a_congestion_burst_name_it() -> None:
    fleet = _fleet(spontaneous=False)
    terminal = _busiest(fleet, 1, lambda t: True)
    burst = terminal.start_fault("congestion_burst", START, HOUR)
    _snapshots, batches = _watch(fleet, terminal, HOUR)
    timeouts = [line for line in _failures_of(batches, fleet, terminal)
                if line["local_error"] == "network_timeout"]
    assert timeouts
    assert all(line["fault_id"] == burst.id for line in timeouts)


# --- network_degraded -------------------------------------------------------------------


def test_a_random_network_degradation_ramps_and_a_scripted_one_hits_at_once() -> None:
    fleet = _fleet(spontaneous=True)
    ramping, scripted = [t for t in fleet.terminals if t.spec.driver != "escpos"][:2]
    ramping.next_onset["network_degraded"] = START
    ramping.tick(START, 60.0)
    assert "network_degraded" in ramping.faults
    assert not ramping.faults["network_degraded"].scripted
    assert ramping.degraded_level(START) == 0.0
    _start, full = ramping.degrading["network_degraded"]
    assert full - START >= 20 * 60.0
    assert 0.0 < ramping.degraded_level((START + full) / 2) < 1.0
    assert ramping.degraded_level(full) == 1.0

    scripted.start_fault("network_degraded", START, HOUR, scripted=True)
    assert scripted.degraded_level(START) == 1.0
    base = scripted.network.latency_base_ms
    scripted.tick(START, 60.0)
    assert scripted.network.latency_ms > 2.0 * base
    assert scripted.network.loss_ratio >= 0.05


# --- paper_low --------------------------------------------------------------------------


def _print_until(terminal: SimTerminal, at: float, done: Callable[[], bool]) -> float:
    printer = terminal.printer
    assert printer is not None
    while not done():
        at += 1.0
        terminal.printer_faults(printer.print_receipt(terminal.rng, at, 0.3), at)
    return at


def test_paper_low_lasts_from_the_near_end_mark_until_the_roll_is_replaced() -> None:
    fleet = _fleet(spontaneous=False)
    terminal = next(t for t in fleet.terminals if t.printer is not None)
    printer = terminal.printer
    assert printer is not None
    printer.roll = PaperRoll(remaining_m=3.0, near_end_at_m=2.0)

    at = _print_until(terminal, START, lambda: printer.roll.remaining_m <= 2.3)
    assert "paper_low" not in terminal.faults, "the roll is still above its mark"
    at = _print_until(terminal, at, lambda: printer.roll.state is PaperState.NEAR_END)
    low = terminal.faults["paper_low"]
    assert low.start == at
    assert low.end is None
    at = _print_until(terminal, at, lambda: printer.roll.state is PaperState.OUT)
    assert "paper_low" in terminal.faults, "still low when it runs out"

    replaced = terminal.repairs["paper_out"]
    terminal.tick(replaced, 60.0)
    assert terminal.paper() is PaperState.OK
    assert "paper_low" not in terminal.faults
    assert low.end == replaced
    lines = [line for line in fleet.drain().ground_truth if line["id"] == low.id]
    assert lines
    assert lines[0]["kind"] == "paper_low"
    assert lines[0]["component"] == "printer"


def test_paper_low_ends_when_staff_replace_the_roll_before_it_runs_out() -> None:
    fleet = _fleet(spontaneous=False)
    terminal = next(t for t in fleet.terminals if t.printer is not None)
    printer = terminal.printer
    assert printer is not None
    printer.roll = PaperRoll(remaining_m=2.1, near_end_at_m=2.0)
    terminal.printer_faults(printer.print_receipt(terminal.rng, START, 0.3), START)
    low = terminal.faults["paper_low"]
    replaced = terminal.replace_roll_at
    assert replaced is not None
    terminal.tick(replaced, 60.0)
    assert low.end == replaced
    assert "paper_low" not in terminal.faults
    assert "paper_out" not in terminal.faults
    assert terminal.paper() is PaperState.OK


# --- battery_worn -----------------------------------------------------------------------


def test_a_battery_below_sixty_percent_health_is_worn_from_the_start() -> None:
    fleet = _fleet(50, spontaneous=False)
    _snapshots, batches = _watch(fleet, fleet.terminals[0], HOUR, step=600.0)
    worn = {str(line["terminal_id"]): line for line in _lines(batches, fleet, "fault")
            if line["kind"] == "battery_worn"}
    health = {t.spec.id: t.battery.health_ratio for t in fleet.terminals if t.battery}
    weak = {tid for tid, ratio in health.items() if ratio < 0.6}
    assert weak, "the fleet has no worn battery: pick another seed"
    assert set(health) - weak, "and no good one"
    assert set(worn) == weak
    for line in worn.values():
        assert _time(line["start"]) == START
        assert line["end"] is None, "nobody replaced it within the hour"
        assert not line["scripted"]
        assert line["component"] == "system"


# --- spontaneous_faults -----------------------------------------------------------------


def _new_kinds_started(spontaneous: bool) -> set[str]:
    fleet = _fleet(spontaneous=spontaneous)
    for terminal in fleet.terminals:
        for kind in terminal.next_developing:
            terminal.next_developing[kind] = START  # every onset due at once
    _snapshots, batches = _watch(fleet, fleet.terminals[0], HOUR, step=600.0)
    assert all(at > START for t in fleet.terminals for at in t.next_developing.values())
    return {str(line["kind"]) for line in _lines(batches, fleet, "fault")} & NEW_RANDOM_KINDS


def test_without_spontaneous_faults_no_new_random_kind_starts() -> None:
    assert _new_kinds_started(spontaneous=False) == set()
    assert _new_kinds_started(spontaneous=True) == NEW_RANDOM_KINDS
