"""posfleet.dashboards."""
