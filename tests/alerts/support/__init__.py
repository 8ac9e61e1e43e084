"""Helpers of the end-to-end alert tests: time-scaled rule files, the shipped Alertmanager
configuration pointed at a test's bridge, and clocks that follow simulated time."""
