"""Tests of the ticket bridge (posfleet.alerts.bridge)."""
