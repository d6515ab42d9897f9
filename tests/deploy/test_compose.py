"""docker/compose.yaml (no container engine runs here): its shape, checked as data. Two broker
replicas behind the load balancer, which sends traffic to exactly their ports and refuses
/metrics; PostgreSQL as the store with its DSN from a secret file; the brokers' settings valid
as the broker's own; the hardening on every container of the image."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.deploy.conftest import DOCKER, validate_settings

COMPOSE = DOCKER / "compose.yaml"


def services() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return found


def brokers() -> dict[str, Any]:
    return {
        name: service
        for name, service in services().items()
        if name.startswith("broker-") and name != "broker-init"
    }


def env_to_settings(env: dict[str, str]) -> dict[str, Any]:
    """SOTE_BROKER__A__B variables as the nested settings they override (values as YAML)."""
    data: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith("SOTE_BROKER__"):
            continue
        *path, last = name.removeprefix("SOTE_BROKER__").lower().split("__")
        node = data
        for key in path:
            node = node.setdefault(key, {})
        node[last] = yaml.safe_load(raw)
    return data


def test_two_replicas_behind_the_load_balancer() -> None:
    ports = {int(b["environment"]["SOTE_BROKER__PORT"]) for b in brokers().values()}
    assert len(brokers()) == 2 and len(ports) == 2
    nginx = (DOCKER / "nginx.conf").read_text()
    upstream = re.search(r"upstream brokers \{(.*?)\}", nginx, re.S)
    assert upstream is not None
    assert {int(p) for p in re.findall(r"server 127\.0\.0\.1:(\d+)", upstream.group(1))} == ports
    assert re.search(r"location = /metrics \{\s*return 404;", nginx)
    for broker in brokers().values():
        assert broker["network_mode"] == "service:lb"


def test_the_store_is_postgresql_with_the_dsn_from_a_secret_file() -> None:
    for name in [*brokers(), "broker-init"]:
        service = services()[name]
        env = service["environment"]
        assert env["SOTE_BROKER__STORE__BACKEND"] == "postgresql"
        assert env["SOTE_BROKER__STORE__DSN_FILE"] == "/run/secrets/broker-dsn"
        assert "broker-dsn" in service["secrets"]
        assert not any("postgresql://" in str(value) for value in env.values())
    assert services()["postgres"]["image"].startswith("postgres:")


def test_the_brokers_settings_are_valid() -> None:
    for broker in brokers().values():
        settings = validate_settings(env_to_settings(broker["environment"]))
        assert settings.limits.trusted_proxies == ("127.0.0.1",)
        assert settings.metrics.enabled


def test_every_container_of_the_image_is_hardened() -> None:
    for name, service in services().items():
        if service.get("image") != "sote-broker:dev":
            continue
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
