"""The terminal's link to the acquirer: signal random walk, latency, loss and SIM data."""

from __future__ import annotations

import random

from posfleet.simulator.catalog import Interface

# Installers check coverage, so every terminal starts with its signal above the edge where
# requests begin to suffer; it gets worse only through a ``signal_fading`` fault.
_SIGNAL_BASELINE_DBM: dict[Interface, tuple[float, float]] = {
    "wifi": (-70.0, -50.0),
    "cellular": (-94.0, -75.0),
}
WEAK_EDGE_DBM: dict[Interface, float] = {"wifi": -78.0, "cellular": -100.0}
"""Below this, latency and loss grow with every dB lost."""
DROP_EDGE_MARGIN_DB = 8.0
"""So many dB below the weak edge the radio starts losing the link now and then."""
_LATENCY_BASE_MS: dict[Interface, tuple[float, float]] = {
    "ethernet": (25.0, 60.0),
    "wifi": (40.0, 90.0),
    "cellular": (120.0, 380.0),
}
SIM_PLAN_BYTES = 1_073_741_824
BACKGROUND_BYTES_PER_SECOND = 400.0
TRANSACTION_BYTES = 8_000


class NetworkLink:
    """Continuous network quantities; outages and episodes are faults kept by the terminal."""

    __slots__ = (
        "baseline_dbm",
        "interface",
        "latency_base_ms",
        "latency_ms",
        "link_flaps_total",
        "loss_ratio",
        "signal_dbm",
        "sim_remaining_bytes",
    )

    def __init__(self, rng: random.Random, interface: Interface) -> None:
        self.interface = interface
        low, high = _SIGNAL_BASELINE_DBM.get(interface, (0.0, 0.0))
        self.baseline_dbm: float | None = (
            rng.uniform(low, high) if interface in _SIGNAL_BASELINE_DBM else None
        )
        self.signal_dbm = self.baseline_dbm
        self.latency_base_ms = rng.uniform(*_LATENCY_BASE_MS[interface])
        self.latency_ms = self.latency_base_ms
        self.loss_ratio = 0.0
        self.link_flaps_total = rng.randrange(0, 40)
        self.sim_remaining_bytes: int | None = None
        if interface == "cellular":
            # A few SIMs are nearly drained when the simulation starts.
            self.sim_remaining_bytes = (
                rng.randrange(0, 3_000_000)
                if rng.random() < 0.05
                else rng.randrange(200_000_000, SIM_PLAN_BYTES)
            )

    def walk(
        self, rng: random.Random, dt: float, degraded: float, fade_db: float = 0.0
    ) -> None:
        """Advance the noise by ``dt`` seconds. ``degraded`` is how far a latency and loss
        episode has gone (0 none, 1 full); ``fade_db`` how far a fading signal has sunk
        below its usual level."""
        penalty = 0.0
        if self.baseline_dbm is not None and self.signal_dbm is not None:
            target = self.baseline_dbm - fade_db
            pull = (target - self.signal_dbm) * min(1.0, dt / 600.0)
            step = self.signal_dbm + pull + rng.gauss(0.0, 1.5 * (dt / 60.0) ** 0.5)
            self.signal_dbm = max(-140.0, min(-30.0, step))
            penalty = max(0.0, self.weak_edge_dbm - self.signal_dbm) * 25.0
        jitter = abs(rng.gauss(0.0, 0.15))
        self.latency_ms = self.latency_base_ms * (1.0 + jitter) + penalty
        self.loss_ratio = min(0.02, penalty / 20_000.0)
        if degraded > 0.0:
            self.latency_ms *= 1.0 + degraded * (rng.uniform(4.0, 12.0) - 1.0)
            self.loss_ratio = max(self.loss_ratio, degraded * rng.uniform(0.05, 0.4))
        if self.sim_remaining_bytes is not None:
            self.use_data(int(BACKGROUND_BYTES_PER_SECOND * dt))

    @property
    def weak_edge_dbm(self) -> float:
        return WEAK_EDGE_DBM.get(self.interface, -100.0)

    def drop_chance(self) -> float:
        """Chance per minute that a radio this far below the weak edge loses the link."""
        if self.signal_dbm is None:
            return 0.0
        below = self.weak_edge_dbm - DROP_EDGE_MARGIN_DB - self.signal_dbm
        return min(0.5, max(0.0, below) * 0.04)

    def use_data(self, amount: int) -> None:
        if self.sim_remaining_bytes is not None:
            self.sim_remaining_bytes = max(0, self.sim_remaining_bytes - amount)

    def timeout_probability(self) -> float:
        late = max(0.0, self.latency_ms - 1_500.0) / 10_000.0
        return min(0.9, self.loss_ratio * 1.5 + late)
