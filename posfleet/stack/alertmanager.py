"""The shipped Alertmanager configuration, adapted to deliver to a given ticket bridge.

Used by the end-to-end test and the time-to-ticket benchmark (and the coming central stack),
so all of them run the shipped routes and inhibitions rather than a copy.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
"""The repository (a checkout or an editable install), where ``deploy/`` lives."""
SHIPPED_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
BRIDGE_RECEIVER = "ticket-bridge"


def _set_waits(route: dict[str, Any], wait: str) -> None:
    for key in ("group_wait", "group_interval"):
        route[key] = wait
    for child in route.get("routes", []):
        _set_waits(child, wait)


def config_for_bridge(
    webhook_url: str,
    token_file: Path,
    *,
    wait: str | None = None,
    shipped: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The shipped routes, inhibitions and bridge receiver, with the bridge receiver sending
    to ``webhook_url`` with the bearer token in ``token_file``.

    The other receivers keep their names but send nothing (no mail, WeCom or Slack from a
    test); global settings that only those need are dropped. ``wait`` replaces
    ``group_wait`` and ``group_interval`` on every route (None: the shipped timings).
    """
    config = copy.deepcopy(
        shipped if shipped is not None else yaml.safe_load(SHIPPED_CONFIG.read_text())
    )
    config["global"] = {"resolve_timeout": config.get("global", {}).get("resolve_timeout", "5m")}
    config.pop("templates", None)
    receivers = []
    for receiver in config["receivers"]:
        if receiver["name"] != BRIDGE_RECEIVER:
            receivers.append({"name": receiver["name"]})
            continue
        (webhook,) = receiver["webhook_configs"]
        webhook["url"] = webhook_url
        webhook["http_config"]["authorization"]["credentials_file"] = str(token_file)
        receivers.append(receiver)
    config["receivers"] = receivers
    if wait is not None:
        _set_waits(config["route"], wait)
    return config
