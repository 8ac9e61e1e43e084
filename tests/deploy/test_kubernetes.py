"""deploy/kubernetes: every manifest is valid against the Kubernetes API schemas (strict: no
unknown fields) of the oldest and newest versions posfleet supports, and the workloads hold
to what operations and security rely on: non-root, read-only root file system, probes,
requests and limits, three ingest copies with stable client ids, disruption budgets that
select real pods, and a ConfigMap posfleet itself accepts.

No cluster runs here: nothing is applied (kubectl and kustomize are not installed either);
kustomization.yaml is checked by reading it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from click.testing import CliRunner

from posfleet.cli import cli
from posfleet.config.loader import load_config

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
VERSIONS = ("1.28.0", "1.33.0")
MANIFESTS = sorted(
    p for p in KUBERNETES.glob("*.yaml")
    if p.name not in {"kustomization.yaml", "servicemonitor.yaml"}
)


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _all() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in _documents(path)]


def _kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _all() if doc["kind"] == kind]


def _workloads() -> list[dict[str, Any]]:
    return [doc for doc in _all() if doc["kind"] in {"Deployment", "StatefulSet"}]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid(path: Path, version: str) -> None:
    for document in _documents(path):
        kubernetes_validate.validate(document, version, strict=True)


def test_validation_catches_a_misspelt_field() -> None:
    """The check above would see a typo."""
    (deployment,) = [w for w in _workloads() if w["metadata"]["name"] == "posfleet-tickets"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in MANIFESTS]
    assert kustomization["namespace"] == "posfleet"
    (image,) = kustomization["images"]
    used = {c["image"].split(":")[0] for w in _workloads()
            for c in w["spec"]["template"]["spec"]["containers"]}
    assert used == {image["name"]}


@pytest.mark.parametrize("name", ["posfleet-ingest", "posfleet-tickets", "posfleet-web"])
def test_workload_is_locked_down_and_sized(name: str) -> None:
    (workload,) = [w for w in _workloads() if w["metadata"]["name"] == name]
    pod = workload["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] >= 1000
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert set(container["resources"]) == {"requests", "limits"}
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        for probe in ("readinessProbe", "livenessProbe"):
            path = container[probe]["httpGet"]["path"]
            assert path in {"/healthz", "/metrics"}
        assert {"secretRef": {"name": "posfleet-secrets"}} in container["envFrom"]
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/etc/posfleet", "/var/lib/posfleet", "/tmp"} <= mounts


def test_three_ingest_copies_with_stable_client_ids() -> None:
    (ingest,) = _kind("StatefulSet")
    assert ingest["spec"]["replicas"] == 3
    assert ingest["spec"]["podManagementPolicy"] == "Parallel"
    (container,) = ingest["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--client-id") + 1] == "$(POD_NAME)"
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in (
        container["env"]
    )
    (claim,) = ingest["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "buffer", "each copy keeps its own disk buffer"
    annotations = ingest["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"


def test_disruption_budgets_and_services_select_pods() -> None:
    pod_labels = {
        w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"] for w in _workloads()
    }

    def selects(selector: dict[str, str]) -> set[str]:
        return {
            name for name, labels in pod_labels.items()
            if all(labels.get(k) == v for k, v in selector.items())
        }

    budgets = {b["metadata"]["name"]: b for b in _kind("PodDisruptionBudget")}
    assert set(budgets) == {"posfleet-ingest", "posfleet-web"}
    for name, budget in budgets.items():
        assert selects(budget["spec"]["selector"]["matchLabels"]) == {name}
        (workload,) = [w for w in _workloads() if w["metadata"]["name"] == name]
        assert budget["spec"]["minAvailable"] < workload["spec"]["replicas"], "drains must pass"
    for service in _kind("Service"):
        assert selects(service["spec"]["selector"]) == {service["metadata"]["name"]}


def test_configmap_is_a_valid_posfleet_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (configmap,) = _kind("ConfigMap")
    path = tmp_path / "posfleet.yml"
    path.write_text(configmap["data"]["posfleet.yml"])
    for line in (KUBERNETES / "secrets.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            monkeypatch.setenv(key, value)
    config = load_config(path)
    assert config.ingest.listen == "0.0.0.0:9465"
    assert config.tickets.listen == "0.0.0.0:9466"
    assert config.tickets.database.startswith("postgresql+psycopg://")
    assert config.buffer.directory == "/var/lib/posfleet/buffer"
    assert config.status_store is not None
    assert config.status_store.database.startswith("postgresql+psycopg://")
    assert config.web.listen == "0.0.0.0:9467"
    assert config.web.session_secret is not None


@pytest.mark.parametrize("name", ["posfleet-ingest", "posfleet-tickets", "posfleet-web"])
def test_container_command_exists(name: str) -> None:
    (workload,) = [w for w in _workloads() if w["metadata"]["name"] == name]
    args = workload["spec"]["template"]["spec"]["containers"][0]["args"]
    command = [a for a in args[2:] if not a.startswith("-")][:2]
    if command[1] != "serve":
        command = command[:1]
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, f"posfleet {' '.join(command)}: {result.output}"
