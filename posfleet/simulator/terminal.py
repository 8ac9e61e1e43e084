"""One simulated terminal: its changing state and the faults that come and go.

State advances in steps (:meth:`SimTerminal.tick`, every minute of simulated time by
default); sales happen between steps. A fault is an entry in ``faults`` from its start to
its end, and each component reads its flags from there, so the ground truth and what the
terminal reports cannot disagree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from posfleet.simulator.faults import Fault, FaultLog
from posfleet.simulator.fleet import MerchantSpec, StoreSpec, TerminalSpec
from posfleet.simulator.hours import LocalTime
from posfleet.simulator.network import SIM_PLAN_BYTES, NetworkLink
from posfleet.simulator.paper import PaperRoll
from posfleet.simulator.power import LOW_BATTERY_PERCENT, Battery
from posfleet.simulator.printer import PrinterMechanism
from posfleet.simulator.rng import stream
from posfleet.telemetry import PaperState

HOUR = 3600.0
DAY = 86400.0

# Mean time between random onsets of each fault, in seconds (per terminal).
_HAZARD_MEAN: dict[str, float] = {
    "link_flap": 7 * DAY,
    "network_degraded": 2 * DAY,
    "link_down": 20 * DAY,
    "reboot": 7 * DAY,
    "card_reader_degraded": 60 * DAY,
    "touch_degraded": 90 * DAY,
    "qr_scanner_degraded": 60 * DAY,
    "cover_open": 10 * DAY,
}
# Faults in the making (``faults.DEVELOPING``) and sudden congestion; drawn from their own
# random stream so adding them left every other draw of a terminal where it was.
_DEVELOPING_HAZARD_MEAN: dict[str, float] = {
    "printer_wear": 25 * DAY,
    "signal_fading": 12 * DAY,
    "link_unstable": 20 * DAY,
    "congestion_burst": 10 * DAY,
}
_WIRED_HAZARD_FACTOR = 5.0  # cables flap and degrade far less often than radio links
WORN_BATTERY_RATIO = 0.6
"""Capacity share of design below which vendors call a battery worn out."""

# How long faults last (uniform range, seconds) when no one has to fix them.
_DURATION: dict[str, tuple[float, float]] = {
    "link_flap": (5.0, 60.0),
    "network_degraded": (180.0, 1800.0),
    "link_down": (300.0, 3600.0),
    "reboot": (60.0, 180.0),
    "cover_open": (60.0, 1200.0),
    "paper_jam": (120.0, 900.0),
    "cutter_error": (300.0, 1800.0),
    "over_temperature": (30.0, 90.0),
    "paper_out": (120.0, 1200.0),
    "sim_quota_exhausted": (DAY, 3 * DAY),
    "certificate_expired": (DAY, 3 * DAY),
    "uplink_down": (180.0, 2700.0),
    "gateway_outage": (120.0, 900.0),
    "congestion_burst": (120.0, 600.0),
}
# Developing faults: (shortest, longest) ramp to full effect, and (shortest, longest) time
# after that until it is fixed or passes.
_RAMP: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "network_degraded": ((20 * 60.0, 3 * HOUR), (10 * 60.0, HOUR)),
    "signal_fading": ((HOUR, 12 * HOUR), (4 * HOUR, 48 * HOUR)),
    "printer_wear": ((2 * HOUR, 24 * HOUR), (4 * HOUR, 24 * HOUR)),
}
_LINK_UNSTABLE_HOURS = (2.0, 24.0)
_LINK_DROP_SECONDS = (5.0, 60.0)
_FADE_DEPTH_DB = (12.0, 30.0)
NETWORK_CONDITIONS = ("network_degraded", "congestion_burst", "signal_fading")
"""Faults that make requests time out, in the order a timeout is blamed on them."""
DEGRADING = ("card_reader_degraded", "touch_degraded", "qr_scanner_degraded")
WORN_BY_USE = frozenset(("card_reader_degraded", "qr_scanner_degraded"))
"""Readers wear with the cards and codes they read, not with the hours: a random onset
ramps over a number of reads (a scripted one over the scenario's minutes)."""
_READS_TO_FAILURE = (40, 400)
WEAR_FAULTS = frozenset(("paper_jam", "cutter_error"))
"""Faults a worn printer mechanism causes (blamed on its ``printer_wear``)."""
_PRINTER_FAULTS = frozenset(("paper_out", "paper_jam", "cutter_error", "cover_open",
                             "over_temperature"))
SUDDEN_PRINTER_FAULTS = frozenset(("paper_jam", "cutter_error", "over_temperature"))
"""Faults a print job causes by chance, with no sign in the status beforehand (a roll
running out is announced by its near-end sensor)."""


def fault_duration(rng: random.Random, kind: str) -> float:
    low, high = _DURATION[kind]
    return rng.uniform(low, high)


@dataclass(slots=True)
class MerchantState:
    """Shared state of one merchant: its acquirer gateway."""

    spec: MerchantSpec
    gateway_fault: Fault | None = None


@dataclass(slots=True)
class StoreState:
    """Shared state of one store: local time and its uplink."""

    spec: StoreSpec
    merchant: MerchantState
    local: LocalTime = field(init=False)
    uplink_fault: Fault | None = None

    def __post_init__(self) -> None:
        self.local = LocalTime(self.spec.region.timezone, self.spec.opening_hours)


class SimTerminal:
    """A terminal's state: printer, peripherals, network, power, firmware, faults."""

    def __init__(
        self,
        spec: TerminalSpec,
        seed: int,
        start: float,
        store: StoreState,
        log: FaultLog,
        *,
        spontaneous_faults: bool = True,
    ) -> None:
        self.spec = spec
        self.spontaneous_faults = spontaneous_faults
        """False: no random onsets, chance print faults or open covers (the scenario's
        ``spontaneous_faults``); the random draws that schedule onsets still happen."""
        self.store = store
        self.log = log
        setup = stream(seed, spec.id, "state")
        self.rng = stream(seed, spec.id, "run")
        self.physics = stream(seed, spec.id, "developing")
        self.faults: dict[str, Fault] = {}
        self.repairs: dict[str, float] = {}
        self.degrading: dict[str, tuple[float, float]] = {}
        self.wear_by_use: dict[str, list[int]] = {}
        """Kind -> [reads so far, reads until it fails outright] of a reader wearing out."""
        self.link_drop: tuple[float, Fault | None] | None = None
        """(until, cause) of a short loss of the link that is not a fault of its own."""
        self.drops_per_minute = 0.0
        self.fade_depth_db = 0.0
        self.printer = PrinterMechanism(setup, start) if spec.has_printer else None
        self.replace_roll_at: float | None = None
        self.network = NetworkLink(setup, spec.interface or "ethernet")
        self.battery = Battery(setup) if spec.device.mobile else None
        self.reader_counts = [setup.randrange(0, 50_000) for _ in range(6)]
        self.qr_counts = [setup.randrange(0, 5_000), setup.randrange(0, 200)]
        self.touch_errors_total = setup.randrange(0, 100)
        self.boot_at = start - setup.uniform(600.0, 30 * DAY)
        self.reboots_total = setup.randrange(0, 60)
        self.clock_skew_at_boot = setup.gauss(0.0, 0.3)
        self.drift_ppm = setup.gauss(0.0, 15.0)
        roll = setup.random()
        days = setup.uniform(0, 7) if roll < 0.03 else setup.uniform(7, 60) if roll < 0.13 else (
            setup.uniform(60, 700)
        )
        self.certificate_expires_at = start + days * DAY
        self.storage_total = setup.choice((8, 16, 32)) * 1_073_741_824
        self.storage_used = int(self.storage_total * setup.uniform(0.2, 0.8))
        self.memory_total = setup.choice((2, 3, 4)) * 1_073_741_824
        self.memory_used = int(self.memory_total * 0.5)
        self.stan = setup.randrange(1, 999_999)
        self.sales_total = 0
        self.pending_reversal: tuple[str, int] | None = None
        """(transaction id, attempts) of a timed-out sale whose reversal is queued."""
        self.was_open = store.local.is_open(start)
        wired = 1.0 if spec.interface in ("wifi", "cellular") else _WIRED_HAZARD_FACTOR
        self.next_onset: dict[str, float] = {
            kind: start + self.rng.expovariate(1.0 / (mean * self._hazard_factor(kind, wired)))
            for kind, mean in _HAZARD_MEAN.items()
        }
        self.next_developing: dict[str, float] = {
            kind: start + self.physics.expovariate(1.0 / (mean * self._hazard_factor(kind, wired)))
            for kind, mean in _DEVELOPING_HAZARD_MEAN.items()
            if self._can_develop(kind)
        }
        if self.battery is not None and self.battery.health_ratio < WORN_BATTERY_RATIO:
            self.start_fault("battery_worn", start, None)

    def _can_develop(self, kind: str) -> bool:
        if self.spec.driver == "escpos" and kind != "printer_wear":
            return False  # a bare receipt printer has no link of its own to lose
        if kind == "printer_wear":
            return self.spec.has_printer
        if kind == "signal_fading":
            return self.network.baseline_dbm is not None
        return True

    def _hazard_factor(self, kind: str, wired: float) -> float:
        return wired if kind in ("link_flap", "network_degraded", "congestion_burst") else 1.0

    # --- state the rest of the model reads ------------------------------------------------

    @property
    def powered(self) -> bool:
        return "reboot" not in self.faults and (
            self.battery is None or self.battery.percent > 0.0
        )

    def severity(self, kind: str, now: float) -> float:
        """How far a degrading component has gone, from 0 (fine) to 1 (failed)."""
        used = self.wear_by_use.get(kind)
        if used is not None:
            return min(1.0, used[0] / used[1])
        span = self.degrading.get(kind)
        if span is None:
            return 0.0
        start, full = span
        return 1.0 if now >= full else max(0.0, (now - start) / (full - start))

    def dropped_link(self, now: float) -> tuple[float, Fault | None] | None:
        """(until, cause) of a short loss of the link going on at ``now``, or None."""
        drop = self.link_drop
        return drop if drop is not None and now < drop[0] else None

    def network_condition(self) -> Fault | None:
        """The fault a request timing out now is blamed on (None: bad luck)."""
        for kind in NETWORK_CONDITIONS:
            fault = self.faults.get(kind)
            if fault is not None:
                return fault
        return None

    def degraded_level(self, now: float) -> float:
        """How bad latency and loss are, 0 to 1 (a scripted episode is at full strength)."""
        if "congestion_burst" in self.faults:
            return 1.0
        if "network_degraded" not in self.faults:
            return 0.0
        ramping = "network_degraded" in self.degrading
        return self.severity("network_degraded", now) if ramping else 1.0

    def reads_done(self, kind: str, attempts: int, now: float) -> None:
        """Count a sale's read attempts against a reader wearing out with use; once it has
        failed outright a technician replaces it some hours later."""
        used = self.wear_by_use.get(kind)
        if used is None:
            return
        used[0] += attempts
        if used[0] >= used[1] and kind not in self.repairs:
            self.repairs[kind] = now + self.physics.uniform(2 * HOUR, 24 * HOUR)

    def clock_skew(self, now: float) -> float:
        return self.clock_skew_at_boot + self.drift_ppm * 1e-6 * (now - self.boot_at)

    def paper(self) -> PaperState | None:
        return self.printer.roll.state if self.printer else None

    # --- faults ---------------------------------------------------------------------------

    def start_fault(
        self, kind: str, now: float, duration: float | None, *, scripted: bool = False
    ) -> Fault:
        """Start ``kind`` (or extend it if it is on); it ends after ``duration`` seconds, or
        when the model repairs it (None)."""
        existing = self.faults.get(kind)
        if existing is not None:
            if duration is not None:
                self.repairs[kind] = max(self.repairs.get(kind, now), now + duration)
            return existing
        spec = self.spec
        fault = self.log.start(
            kind, now, spec.store.merchant.id, spec.store.id, spec.id, scripted=scripted
        )
        self.faults[kind] = fault
        if duration is not None:
            self.repairs[kind] = now + duration
        if kind in _PRINTER_FAULTS and self.printer is not None:
            self.printer.faults_total += 1
        if kind == "paper_out" and self.printer is not None:
            self.printer.roll.remaining_m = 0.0
        elif kind in ("link_flap", "link_down"):
            self.network.link_flaps_total += 1
        elif kind == "reboot":
            self.reboots_total += 1
        elif kind == "sim_quota_exhausted":
            self.network.sim_remaining_bytes = 0
        return fault

    def end_fault(self, kind: str, now: float) -> None:
        fault = self.faults.pop(kind, None)
        self.repairs.pop(kind, None)
        if fault is None:
            return
        self.log.end(fault, now)
        if kind == "paper_out":
            self._replace_roll(now)
        elif kind == "reboot":
            self.boot_at = now
            self.clock_skew_at_boot = self.rng.gauss(0.0, 0.3)
        elif kind == "sim_quota_exhausted":
            self.network.sim_remaining_bytes = SIM_PLAN_BYTES
        elif kind == "certificate_expired":
            self.certificate_expires_at = now + 365 * DAY
        elif kind == "printer_wear" and self.printer is not None:
            self.printer.serviced()
        self.degrading.pop(kind, None)
        self.wear_by_use.pop(kind, None)

    def start_degrading(
        self, kind: str, now: float, ramp: float, *, scripted: bool,
        lasts_after: float | None = None,
    ) -> None:
        """A component whose errors rise over ``ramp`` seconds until it fails outright; a
        technician replaces it some hours after it failed (or it passes ``lasts_after``
        seconds after the ramp)."""
        self.start_fault(kind, now, None, scripted=scripted)
        self.degrading[kind] = (now, now + max(ramp, 1.0))
        if lasts_after is None:
            lasts_after = self.rng.uniform(2 * HOUR, 24 * HOUR)
        self.repairs[kind] = now + ramp + lasts_after

    def _replace_roll(self, now: float) -> None:
        if self.printer is None:
            return
        self.printer.roll = PaperRoll.fresh(self.rng)
        self.replace_roll_at = None
        self.end_fault("paper_low", now)
        # Hurried staff leave the cover not quite shut.
        if self.rng.random() < 0.05 and self.spontaneous_faults:
            self.start_fault("cover_open", now, fault_duration(self.rng, "cover_open"))

    def printer_faults(self, kinds: list[str], now: float) -> None:
        """Start the faults a print job caused and plan when staff deal with the paper."""
        rng = self.rng
        for kind in kinds:
            if kind in SUDDEN_PRINTER_FAULTS and not self.spontaneous_faults:
                continue
            duration = fault_duration(rng, kind)
            if kind == "paper_out" and self.replace_roll_at is not None:
                duration = min(duration, max(1.0, self.replace_roll_at - now))
            fault = self.start_fault(kind, now, duration)
            wear = self.faults.get("printer_wear")
            if kind in WEAR_FAULTS and wear is not None and fault.start == now:
                fault.cause = wear
        if (
            self.printer is not None
            and self.printer.roll.state is not PaperState.OK
            and "paper_low" not in self.faults
        ):
            self.start_fault("paper_low", now, None)
        if (
            self.replace_roll_at is None
            and self.printer is not None
            and self.printer.roll.state is PaperState.NEAR_END
        ):
            # Staff notice the coloured stripe some time after the sensor did, or not at all.
            self.replace_roll_at = now + rng.expovariate(1.0 / HOUR)

    # --- time step ------------------------------------------------------------------------

    def tick(self, now: float, dt: float) -> None:
        """Advance continuous state by ``dt`` seconds and start or end faults that are due."""
        rng = self.rng
        if self.repairs:
            for kind, at in list(self.repairs.items()):
                if now >= at:
                    self.end_fault(kind, now)
        if self.replace_roll_at is not None and now >= self.replace_roll_at:
            if "paper_out" in self.faults:
                self.end_fault("paper_out", now)
            else:
                self._replace_roll(now)
        for kind, at in self.next_onset.items():
            if now >= at:
                self._random_onset(kind, now)
        for kind, at in self.next_developing.items():
            if now >= at:
                self._developing_onset(kind, now)
        fade = self.severity("signal_fading", now) * self.fade_depth_db
        self.network.walk(rng, dt, self.degraded_level(now), fade)
        self._link_drops(now, dt)
        is_open = self.store.local.is_open(now)
        if self.battery is not None:
            self.battery.step(rng, dt, is_open)
            self._battery_faults(now)
        self.memory_used = int(self.memory_total * min(0.95, max(0.2, rng.gauss(0.55, 0.08))))
        if self.network.sim_remaining_bytes == 0 and "sim_quota_exhausted" not in self.faults:
            self.start_fault("sim_quota_exhausted", now, fault_duration(rng, "sim_quota_exhausted"))
        if now >= self.certificate_expires_at and "certificate_expired" not in self.faults:
            self.start_fault("certificate_expired", now, fault_duration(rng, "certificate_expired"))
        if "touch_degraded" in self.degrading:
            level = self.severity("touch_degraded", now)
            self.touch_errors_total += int(rng.expovariate(1.0) * 20 * level * dt / 60.0)
        if self.was_open and not is_open and self.printer is not None and self.powered:
            # End-of-day report: a long print run that heats the head.
            kinds = self.printer.print_receipt(
                rng, now, rng.uniform(1.0, 3.0), self.severity("printer_wear", now)
            )
            self.printer_faults(kinds, now)
        self.was_open = is_open

    def _random_onset(self, kind: str, now: float) -> None:
        rng = self.rng
        wired = 1.0 if self.spec.interface in ("wifi", "cellular") else _WIRED_HAZARD_FACTOR
        mean = _HAZARD_MEAN[kind] * self._hazard_factor(kind, wired)
        self.next_onset[kind] = now + rng.expovariate(1.0 / mean)
        if kind in self.faults or not self.spontaneous_faults:
            return
        if kind in WORN_BY_USE:
            self.start_fault(kind, now, None)
            self.wear_by_use[kind] = [0, self.physics.randint(*_READS_TO_FAILURE)]
        elif kind in DEGRADING:
            self.start_degrading(kind, now, rng.uniform(HOUR, 12 * HOUR), scripted=False)
        elif kind == "network_degraded":
            (ramp_low, ramp_high), (hold_low, hold_high) = _RAMP[kind]
            self.start_degrading(
                kind, now, rng.uniform(ramp_low, ramp_high), scripted=False,
                lasts_after=rng.uniform(hold_low, hold_high),
            )
        elif kind == "cover_open" and self.printer is None:
            return
        else:
            self.start_fault(kind, now, fault_duration(rng, kind))

    def _developing_onset(self, kind: str, now: float) -> None:
        physics = self.physics
        wired = 1.0 if self.spec.interface in ("wifi", "cellular") else _WIRED_HAZARD_FACTOR
        mean = _DEVELOPING_HAZARD_MEAN[kind] * self._hazard_factor(kind, wired)
        self.next_developing[kind] = now + physics.expovariate(1.0 / mean)
        if kind in self.faults or not self.spontaneous_faults:
            return
        if kind == "congestion_burst":
            self.start_fault(kind, now, fault_duration(physics, kind))
        elif kind == "link_unstable":
            low, high = _LINK_UNSTABLE_HOURS
            self.drops_per_minute = 1.0 / physics.uniform(4.0, 15.0)
            self.start_fault(kind, now, physics.uniform(low, high) * HOUR)
        else:
            if kind == "signal_fading":
                self.fade_depth_db = physics.uniform(*_FADE_DEPTH_DB)
            (ramp_low, ramp_high), (hold_low, hold_high) = _RAMP[kind]
            self.start_degrading(
                kind, now, physics.uniform(ramp_low, ramp_high), scripted=False,
                lasts_after=physics.uniform(hold_low, hold_high),
            )

    def _link_drops(self, now: float, dt: float) -> None:
        """Short losses of the link: a radio far below its weak edge, or an unstable link
        (a loose connector, a failing access point) drops now and then."""
        if self.dropped_link(now) is not None or "link_down" in self.faults:
            return
        self.link_drop = None
        chance = self.network.drop_chance()
        cause = self.faults.get("signal_fading")
        unstable = self.faults.get("link_unstable")
        if unstable is not None and self.drops_per_minute > chance:
            chance, cause = self.drops_per_minute, unstable
        if chance > 0.0 and self.physics.random() < min(1.0, chance * dt / 60.0):
            self.link_drop = (now + self.physics.uniform(*_LINK_DROP_SECONDS), cause)
            self.network.link_flaps_total += 1

    def _battery_faults(self, now: float) -> None:
        battery = self.battery
        if battery is None:
            return
        low = battery.percent < LOW_BATTERY_PERCENT
        if low and "battery_low" not in self.faults:
            self.start_fault("battery_low", now, None)
        elif battery.charging and battery.percent > 10.0 and "battery_low" in self.faults:
            self.end_fault("battery_low", now)
