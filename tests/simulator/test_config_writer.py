"""``--write-config`` output is a valid posfleet configuration for the simulated fleet."""

from __future__ import annotations

from posfleet.config import parse_config
from posfleet.simulator.config_writer import fleet_config_yaml
from posfleet.simulator.fleet import DriverShares, FleetParameters, generate_fleet


def test_written_config_passes_the_config_loader() -> None:
    spec = generate_fleet(
        FleetParameters(terminals=60, stores=12, merchants=4, drivers=DriverShares(0.5, 0.4, 0.1))
    )
    ports = {t.id: f"/dev/pts/{n}" for n, t in enumerate(spec.terminals) if t.driver == "escpos"}
    text = fleet_config_yaml(
        spec, http_base="http://127.0.0.1:8480", mqtt_url="mqtt://127.0.0.1:1883",
        escpos_ports=ports,
    )
    config = parse_config(text, "written.yml")
    terminals = {terminal.id: terminal for _, terminal in config.terminals()}
    assert len(terminals) == 60
    http = next(t for t in spec.terminals if t.driver == "http")
    assert terminals[http.id].connection == {
        "url": f"http://127.0.0.1:8480/terminals/{http.id}/status",
        "token_env": "POSFLEET_SIM_TOKEN",
    }
    escpos = next(t for t in spec.terminals if t.driver == "escpos")
    assert terminals[escpos.id].connection == {"port": ports[escpos.id]}
    assert config.mqtt.url == "mqtt://127.0.0.1:1883"


def test_terminals_without_a_running_server_are_left_out() -> None:
    spec = generate_fleet(FleetParameters(terminals=30, drivers=DriverShares(1.0, 1.0, 0.0)))
    text = fleet_config_yaml(spec, http_base=None, mqtt_url=None, escpos_ports={})
    drivers = {terminal.driver for _, terminal in parse_config(text).terminals()}
    assert drivers == {"mqtt"}
