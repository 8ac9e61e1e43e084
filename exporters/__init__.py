"""posfleet.exporters."""
