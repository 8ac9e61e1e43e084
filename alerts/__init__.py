"""posfleet.alerts."""
