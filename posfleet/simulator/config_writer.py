"""``--write-config``: a posfleet configuration describing the simulated fleet, so that
``posfleet collect -c FILE`` polls the simulator exactly as it would poll real terminals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from posfleet.simulator.fleet import FleetSpec, StoreSpec, TerminalSpec

TOKEN_ENV = "POSFLEET_SIM_TOKEN"


def _opening_hours(store: StoreSpec) -> list[dict[str, Any]]:
    return [
        {
            "days": list(span.days),
            "opens": span.opens.strftime("%H:%M"),
            "closes": span.closes.strftime("%H:%M"),
        }
        for span in store.opening_hours
    ]


def _terminal(
    terminal: TerminalSpec, http_base: str | None, ports: Mapping[str, str], token_env: str
) -> dict[str, Any] | None:
    entry: dict[str, Any] = {
        "id": terminal.id,
        "vendor": terminal.device.vendor,
        "model": terminal.device.model,
        "serial": terminal.serial,
        "driver": terminal.driver,
    }
    if terminal.driver == "http":
        if http_base is None:
            return None
        entry["connection"] = {
            "url": f"{http_base}/terminals/{terminal.id}/status",
            "token_env": token_env,
        }
    elif terminal.driver == "escpos":
        port = ports.get(terminal.id)
        if port is None:
            return None
        entry["connection"] = {"port": port}
    return entry


def fleet_config(
    spec: FleetSpec,
    *,
    http_base: str | None,
    mqtt_url: str | None,
    escpos_ports: Mapping[str, str],
    token_env: str = TOKEN_ENV,
    collector_id: str = "sim-collector",
) -> dict[str, Any]:
    """The configuration as data. Terminals whose server is not running (no HTTP listener,
    no printer device) are left out, since the collector could not reach them."""
    stores = []
    for store in spec.stores:
        terminals = [
            entry
            for terminal in spec.terminals
            if terminal.store.id == store.id
            and (entry := _terminal(terminal, http_base, escpos_ports, token_env)) is not None
        ]
        stores.append(
            {
                "id": store.id,
                "merchant": store.merchant.id,
                "name": store.name,
                "region": store.region.id,
                "timezone": store.region.timezone,
                "address": {
                    "street": store.street,
                    "city": store.city,
                    "country": store.region.country,
                },
                "opening_hours": _opening_hours(store),
                "terminals": terminals,
            }
        )
    config: dict[str, Any] = {
        "merchants": [
            {"id": m.id, "name": m.name, "acquirer": m.acquirer} for m in spec.merchants
        ],
        "stores": stores,
        "collector": {"id": collector_id},
    }
    if mqtt_url is not None:
        config["mqtt"] = {"url": mqtt_url}
    return config


def fleet_config_yaml(spec: FleetSpec, **options: Any) -> str:
    header = (
        "# Written by `posfleet simulate --write-config`: the simulated fleet as a posfleet\n"
        f"# configuration. Set the bearer token in ${options.get('token_env', TOKEN_ENV)}.\n"
    )
    body = yaml.safe_dump(fleet_config(spec, **options), sort_keys=False, allow_unicode=True)
    return header + body
