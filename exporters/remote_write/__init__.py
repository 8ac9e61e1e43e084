"""Prometheus remote-write 1.0 from the edge collector (see README.md)."""
