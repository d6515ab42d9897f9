"""docker/k8s/: every manifest valid against the Kubernetes schema (kubernetes-validate,
strict, offline: the schemas ship in its wheel), and what production relies on: replicas, the
probes on the broker's health endpoints, a non-root read-only container, the PDB and Service
selecting the Deployment's pods, and the ConfigMaps valid as the broker's own settings and
IdP files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from broker.upstream.idp_files import load_registry
from tests.deploy.conftest import DOCKER, validate_settings

K8S = DOCKER / "k8s"
VERSIONS = ["1.30", "1.37"]


def resources() -> list[dict[str, Any]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        found.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


def one(kind: str, name: str = "sote-broker") -> dict[str, Any]:
    (found,) = [r for r in resources() if r["kind"] == kind and r["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_for_kubernetes(version: str) -> None:
    kinds = set()
    for resource in resources():
        kubernetes_validate.validate(resource, version, strict=True)
        kinds.add(resource["kind"])
    assert {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "Secret"} <= kinds


def test_a_broken_manifest_is_refused() -> None:
    deployment = one("Deployment")
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


def pod() -> dict[str, Any]:
    spec: dict[str, Any] = one("Deployment")["spec"]["template"]["spec"]
    return spec


def test_two_replicas_probed_on_the_health_endpoints() -> None:
    assert one("Deployment")["spec"]["replicas"] >= 2
    (broker,) = pod()["containers"]
    assert broker["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert broker["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert broker["readinessProbe"]["httpGet"]["path"] == "/health/ready"


def test_every_container_is_non_root_with_a_read_only_root() -> None:
    spec = pod()
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 10001
    assert spec["automountServiceAccountToken"] is False
    for container in spec["initContainers"] + spec["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]


def test_pdb_and_service_select_the_deployments_pods() -> None:
    labels = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    selectors = [
        one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        one("Service")["spec"]["selector"],
    ]
    for selector in selectors:
        assert selector.items() <= labels.items()
    assert one("Service", "sote-broker-postgres")["spec"]["type"] == "ExternalName"


def test_every_mounted_configmap_and_secret_is_defined() -> None:
    defined = {(r["kind"], r["metadata"]["name"]) for r in resources()}
    for volume in pod()["volumes"]:
        if "configMap" in volume:
            assert ("ConfigMap", volume["configMap"]["name"]) in defined
        if "secret" in volume:
            assert ("Secret", volume["secret"]["secretName"]) in defined


def test_the_settings_configmap_is_valid_broker_settings() -> None:
    data = yaml.safe_load(one("ConfigMap", "sote-broker-settings")["data"]["broker.yaml"])
    env = {e["name"]: e["value"] for e in pod()["containers"][0]["env"]}
    settings = validate_settings({**data, "issuer": env["SOTE_BROKER__ISSUER"]})
    assert settings.mode == "production"
    assert settings.metrics.enabled
    assert "127.0.0.1" not in str(settings.metrics.allowed_networks)
    assert data["store"] == {
        "backend": "postgresql",
        "dsn_file": "/run/secrets/sote-broker-db/dsn",
        "pool_max_size": 10,
    }


def test_the_idp_configmap_loads_as_the_brokers_idp_files(tmp_path: Path) -> None:
    for name, text in one("ConfigMap", "sote-broker-idp-configs")["data"].items():
        (tmp_path / name).write_text(text)
    registry = load_registry(tmp_path, development=False)
    assert [idp.id for idp in registry.idps()] == ["example-org"]


def test_the_key_copy_makes_private_copies(tmp_path: Path) -> None:
    """The init container's script, run for real with its paths moved under tmp_path."""
    (keys_container,) = [c for c in pod()["initContainers"] if c["name"] == "keys"]
    script = keys_container["args"][0]
    for source in ("signing-keys", "saml-keys"):
        (tmp_path / "secrets" / source).mkdir(parents=True)
        (tmp_path / "secrets" / source / f"{source}.pem").write_text("x")
    script = script.replace("/run/secrets", str(tmp_path / "secrets"))
    script = script.replace("/var/lib/sote-broker", str(tmp_path / "state"))
    subprocess.run(["/bin/sh", "-c", script], check=True)
    for target, name in (("keys", "signing-keys.pem"), ("saml-keys", "saml-keys.pem")):
        copied = tmp_path / "state" / target / name
        assert copied.read_text() == "x"
        assert copied.stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "state" / target).stat().st_mode & 0o777 == 0o700
    assert not os.access(tmp_path / "state" / "keys" / "README", os.F_OK)
