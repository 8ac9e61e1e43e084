"""Central ingest: snapshots and transactions from MQTT (edge uplinks and terminals' own
pushes) on a shared subscription, checked, written to the outputs, acknowledged after the
write (see README.md)."""
