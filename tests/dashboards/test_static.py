"""The generated dashboards and provisioning files: no drift, unique ids, valid references,
units and thresholds everywhere, only catalogued metrics, links fleet -> store -> terminal."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from posfleet.cli import cli
from posfleet.dashboards.build import JSON_DIR, dashboards, drift, write
from posfleet.dashboards.datasources import DATASOURCES
from posfleet.exporters.catalogue import CATALOGUE, MetricType
from tests.dashboards.support import metric_names, panels, queries

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
BUILTIN_METRICS = {"up", "ALERTS", "ALERTS_FOR_STATE"}


def _recording_rules() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "alerts").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names.update(rule["record"] for rule in group["rules"] if "record" in rule)
    return names


def test_committed_json_equals_the_generated_json() -> None:
    assert drift() == [], "run: posfleet dashboards build"


def test_build_check_reports_drift_and_build_repairs_it(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "json"
    write(out)
    (out / "posfleet-fleet.json").write_text("{}\n")
    (out / "stale.json").write_text("{}\n")
    checked = runner.invoke(cli, ["dashboards", "build", "--check", "--out", str(out)])
    assert checked.exit_code == 1
    assert "posfleet-fleet.json: differs" in checked.output
    assert "stale.json: no dashboard code makes this file" in checked.output
    built = runner.invoke(cli, ["dashboards", "build", "--out", str(out)])
    assert built.exit_code == 0, built.output
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in JSON_DIR.iterdir())
    again = runner.invoke(cli, ["dashboards", "build", "--check", "--out", str(out)])
    assert again.exit_code == 0
    assert "up to date" in again.output


def test_the_five_dashboards_exist_with_unique_uids_and_panel_ids() -> None:
    models = dashboards()
    uids = [model["uid"] for model in models]
    assert uids == [
        "posfleet-fleet", "posfleet-store", "posfleet-terminal", "posfleet-transactions",
        "posfleet-self",
    ]
    assert len(set(uids)) == len(uids)
    for model in models:
        ids = Counter(panel["id"] for panel in panels(model))
        assert [i for i, n in ids.items() if n > 1] == [], model["uid"]
        assert all(len(uid) <= 40 for uid in uids)  # Grafana's uid limit


def _provisioned_datasources() -> list[dict[str, Any]]:
    document = yaml.safe_load((PROVISIONING / "datasources" / "posfleet.yml").read_text())
    assert document["apiVersion"] == 1
    sources: list[dict[str, Any]] = document["datasources"]
    return sources


def test_datasource_provisioning_has_what_grafana_needs() -> None:
    sources = _provisioned_datasources()
    by_uid = {source["uid"]: source for source in sources}
    assert set(by_uid) == {source.uid for source in DATASOURCES}
    for source in sources:
        assert {"name", "type", "uid", "access", "url"} <= set(source), source
        assert source["access"] == "proxy"
        assert source["url"].startswith("$POSFLEET_GRAFANA_"), "URL from the environment"
    influx = by_uid["posfleet-influxdb"]
    assert influx["type"] == "influxdb"
    assert influx["jsonData"]["version"] == "InfluxQL"
    assert influx["jsonData"]["dbName"] == "posfleet"
    assert influx["secureJsonData"]["password"].startswith("$"), "secret from the environment"
    assert by_uid["posfleet-prometheus"]["type"] == "prometheus"


def test_dashboard_provider_points_at_the_mounted_json_folder() -> None:
    document = yaml.safe_load((PROVISIONING / "dashboards" / "posfleet.yml").read_text())
    assert document["apiVersion"] == 1
    (provider,) = document["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/posfleet"
    assert provider["folder"] == "posfleet"
    assert {"name", "orgId", "disableDeletion", "allowUiUpdates"} <= set(provider)


def _refs(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        ref = node.get("datasource")
        if isinstance(ref, dict):
            found.append(ref)
        for value in node.values():
            found.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found


def test_every_datasource_reference_matches_the_provisioning_file() -> None:
    provisioned = {(s["type"], s["uid"]) for s in _provisioned_datasources()}
    for model in dashboards():
        refs = _refs(model)
        assert refs, model["uid"]
        for ref in refs:
            assert (ref.get("type"), ref.get("uid")) in provisioned, (model["uid"], ref)


def test_every_panel_has_a_unit_thresholds_a_description_and_queries() -> None:
    for model in dashboards():
        for panel in panels(model):
            if panel["type"] == "row":
                continue
            where = f"{model['uid']} panel {panel['id']} {panel['title']!r}"
            defaults = panel["fieldConfig"]["defaults"]
            assert defaults.get("unit"), where
            assert defaults["thresholds"]["steps"], where
            assert panel.get("description"), where
            assert panel.get("targets"), where


def test_every_metric_a_query_names_is_catalogued_or_a_rule_or_builtin() -> None:
    known = {spec.name for spec in CATALOGUE} | _recording_rules() | BUILTIN_METRICS
    histograms = {spec.name for spec in CATALOGUE if spec.type is MetricType.HISTOGRAM}
    promql = [q for q in queries() if q.kind != "influxql"]
    assert len(promql) > 60
    unknown = []
    for query in promql:
        names = metric_names(query.text)
        assert names, query.id
        for name in names:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name not in known and not (base != name and base in histograms):
                unknown.append(f"{query.id}: {name}")
    assert unknown == []


def test_metric_name_extraction() -> None:
    assert metric_names(
        'sum by (cause) (rate(posfleet_transactions_total{cause!="approved", store=~"$s"}'
        "[$__rate_interval])) / on (store) group_left () up"
    ) == {"posfleet_transactions_total", "up"}
    assert metric_names('label_values(posfleet_terminal_up{region=~"$region"}, store)') == {
        "posfleet_terminal_up"
    }
    assert metric_names(
        'label_replace(a:b:max{c="d"} == 1, "x", "$1", "version", "(.*)") or vector(0)'
    ) == {"a:b:max"}


def _influx_measurements() -> set[str]:
    text = (ROOT / "docs" / "influxdb-schema.md").read_text()
    return set(re.findall(r"^### `(posfleet_\w+)`", text, flags=re.M))


def test_influxql_queries_use_documented_measurements_and_no_flux() -> None:
    measurements = _influx_measurements()
    influx = [q for q in queries() if q.kind == "influxql"]
    assert len(influx) >= 10
    for query in influx:
        assert query.text.startswith("SELECT "), query.id
        assert "$timeFilter" in query.text, query.id
        used = set(re.findall(r'FROM "(\w+)"', query.text))
        assert used, query.id
        assert used <= measurements, query.id


def _variables(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in model["templating"]["list"]}


@pytest.mark.parametrize(
    "uid", ["posfleet-fleet", "posfleet-store", "posfleet-terminal", "posfleet-transactions"]
)
def test_identity_variables_are_chained(uid: str) -> None:
    (model,) = [m for m in dashboards() if m["uid"] == uid]
    variables = _variables(model)
    assert list(variables) == ["region", "merchant", "store", "terminal"]
    assert "$region" in variables["merchant"]["query"]
    assert "$merchant" in variables["store"]["query"]
    assert "$store" in variables["terminal"]["query"]


def _links(model: dict[str, Any]) -> list[str]:
    return [
        link["url"]
        for panel in panels(model)
        for override in panel.get("fieldConfig", {}).get("overrides", [])
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]


def test_links_lead_from_fleet_to_store_to_terminal() -> None:
    models = {m["uid"]: m for m in dashboards()}
    assert any(u.startswith("/d/posfleet-store/") and "var-store=" in u
               for u in _links(models["posfleet-fleet"]))
    assert any(u.startswith("/d/posfleet-terminal/") and "var-terminal=" in u
               for u in _links(models["posfleet-store"]))
    for model in models.values():
        (link,) = model["links"]
        assert link["type"] == "dashboards"
        assert link["tags"] == ["posfleet"]
        assert model["tags"] == ["posfleet"]
    assert _variables(models["posfleet-store"])["store"].get("multi") is not True
    assert _variables(models["posfleet-terminal"])["terminal"].get("multi") is not True


def test_every_dashboard_has_ticket_annotations() -> None:
    for model in dashboards():
        names = {a["name"] for a in model["annotations"]["list"]}
        assert {"Ticket alerts", "Tickets opened"} <= names, model["uid"]
