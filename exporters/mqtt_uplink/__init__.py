"""MQTT uplink: the edge collector's snapshots and transactions, sent to the central broker
through a store-and-forward disk buffer (see README.md)."""
