"""Start-up refusals of the application itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.assembly import open_keyring
from broker.clock import SystemClock
from broker.errors import ConfigError
from broker.frontend.oidc.keys import KeyRing
from broker.settings import Settings


def production(tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {"issuer": "https://tunnistus.example.fi", "keys": {"directory": tmp_path / "keys"}}
    )


def test_production_refuses_test_keys(tmp_path: Path) -> None:
    settings = production(tmp_path)
    KeyRing(settings.keys.directory, SystemClock()).ensure(["RS256"], test=True)
    with pytest.raises(ConfigError, match="test keys"):
        open_keyring(settings, SystemClock())


def test_production_generates_its_own_keys(tmp_path: Path) -> None:
    keys = open_keyring(production(tmp_path), SystemClock())
    assert {info.alg for info in keys.list()} == {"RS256", "ES256"}
    assert not keys.has_test_keys()
