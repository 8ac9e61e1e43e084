"""InfluxDB output: snapshots and transactions as line protocol, buffered on disk.

See README.md in this folder for configuration, metrics and the schema.
"""

from posfleet.exporters.influxdb.sink import InfluxDbSink

__all__ = ["InfluxDbSink"]
