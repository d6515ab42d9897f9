"""Shared by the deployment tests: where the files are, and the broker's settings check."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from broker.settings import Settings
from broker.store.settings import StoreSettings

DOCKER = Path(__file__).parents[2] / "docker"


def postgresql_supported() -> bool:
    """Whether this broker has the PostgreSQL store (`store.backend: postgresql`)."""
    return "postgresql" in typing.get_args(StoreSettings.model_fields["backend"].annotation)


def validate_settings(data: dict[str, Any]) -> Settings:
    """The broker's own validation of a deployment's settings. Before the PostgreSQL store is
    part of the broker its `store` section is set aside; every other key is checked as is."""
    if not postgresql_supported() and data.get("store", {}).get("backend") == "postgresql":
        data = {key: value for key, value in data.items() if key != "store"}
    return Settings.model_validate(data)
