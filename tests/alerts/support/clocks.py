"""The simulator-driven clocks of the end-to-end tests: the demo's own (posfleet.demo.clock)."""

from posfleet.demo.clock import SimulatedWallClock, TimeMap

__all__ = ["SimulatedWallClock", "TimeMap"]
