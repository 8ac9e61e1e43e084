"""Running the servers posfleet works with (Mosquitto, Prometheus, ...) on this machine."""
