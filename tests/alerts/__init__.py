"""Tests of posfleet.alerts."""
