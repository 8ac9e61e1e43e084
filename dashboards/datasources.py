"""The two data sources every dashboard refers to, by fixed uid.

The provisioning file ``deploy/grafana/provisioning/datasources/posfleet.yml`` creates them
with these uids and ``posfleet dashboards push`` creates or updates them the same way, so a
dashboard's ``{"type": ..., "uid": ...}`` reference always resolves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.models.dashboard import DataSourceRef


@dataclass(frozen=True, slots=True)
class DataSource:
    """One Grafana data source: plugin type, fixed uid and name."""

    type: str
    uid: str
    name: str

    def ref(self) -> DataSourceRef:
        return DataSourceRef(type_val=self.type, uid=self.uid)

    def ref_json(self) -> dict[str, str]:
        return {"type": self.type, "uid": self.uid}


PROMETHEUS = DataSource("prometheus", "posfleet-prometheus", "posfleet Prometheus")
INFLUXDB = DataSource("influxdb", "posfleet-influxdb", "posfleet InfluxDB")
DATASOURCES = (PROMETHEUS, INFLUXDB)

INFLUXDB_DATABASE = "posfleet"
"""The database posfleet writes to by default (``influxdb.database``)."""


def datasource_payloads(
    prometheus_url: str,
    influxdb_url: str,
    *,
    influxdb_database: str = INFLUXDB_DATABASE,
    influxdb_user: str | None = None,
    influxdb_password: str | None = None,
) -> list[dict[str, Any]]:
    """The bodies of Grafana's ``POST /api/datasources`` for both data sources (what the
    provisioning file says, with concrete URLs and secrets)."""
    influx: dict[str, Any] = {
        "name": INFLUXDB.name,
        "type": INFLUXDB.type,
        "uid": INFLUXDB.uid,
        "access": "proxy",
        "url": influxdb_url,
        "jsonData": {"dbName": influxdb_database, "httpMode": "GET", "version": "InfluxQL"},
    }
    if influxdb_user:
        influx["user"] = influxdb_user
    if influxdb_password:
        influx["secureJsonData"] = {"password": influxdb_password}
    prometheus: dict[str, Any] = {
        "name": PROMETHEUS.name,
        "type": PROMETHEUS.type,
        "uid": PROMETHEUS.uid,
        "access": "proxy",
        "url": prometheus_url,
        "isDefault": True,
        "jsonData": {"httpMethod": "POST", "timeInterval": "15s"},
    }
    return [prometheus, influx]
