"""Prometheus exposition of every terminal's latest state (see README.md)."""
