"""Settings: YAML, environment overrides, and refusals that name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.errors import ConfigError
from broker.settings import load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broker.yaml"
    path.write_text(text)
    return path


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "mode: development\nissuer: http://127.0.0.1:8000\n")
    settings = load_settings(
        path,
        {
            "SOTE_BROKER__TOKENS__CODE_TTL": "30",
            "SOTE_BROKER__KEYS__ALGORITHMS": "[ES256]",
            "UNRELATED": "x",
        },
    )
    assert settings.tokens.code_ttl == 30
    assert settings.keys.algorithms == ("ES256",)


def test_config_path_from_environment_and_relative_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mode: development\nissuer: http://127.0.0.1:8000\nstore:\n  sqlite_path: data/b.db\n",
    )
    settings = load_settings(None, {"SOTE_BROKER_CONFIG": str(path)})
    assert settings.store.sqlite_path == tmp_path / "data" / "b.db"


def test_production_is_the_default_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="https"):
        load_settings(write(tmp_path, "issuer: http://127.0.0.1:8000\n"), {})
    settings = load_settings(write(tmp_path, "issuer: https://tunnistus.example.fi\n"), {})
    assert settings.mode == "production"
    assert settings.secure_cookies


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("issuer: https://x.example/\n", "issuer"),
        ("issuer: https://x.example\ntokens:\n  code_ttl: 100000\n", "tokens.code_ttl"),
        ("issuer: https://x.example\nkeys:\n  algorithms: [HS256]\n", "keys.algorithms"),
        ("issuer: https://x.example\nmode: staging\n", "mode"),
        ("- a list\n", "top level"),
    ],
)
def test_invalid_values_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as refused:
        load_settings(path, {})
    assert str(path) in str(refused.value)
    assert key in str(refused.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml", {})


@pytest.mark.parametrize(
    "keys",
    [
        "keys:\n  publish_lead_seconds: 0\n",
        # the lead must also outlast a longer JWKS cache, housekeeping and the skew
        "keys:\n  publish_lead_seconds: 3600\n  jwks_cache_seconds: 3600\n",
    ],
)
def test_production_refuses_a_publish_lead_shorter_than_the_jwks_cache(
    tmp_path: Path, keys: str
) -> None:
    path = write(tmp_path, "issuer: https://tunnistus.example.fi\n" + keys)
    with pytest.raises(ConfigError) as refused:
        load_settings(path, {})
    assert str(path) in str(refused.value)
    assert "keys.publish_lead_seconds" in str(refused.value)


def test_publish_lead_minimum_is_jwks_cache_plus_housekeeping_plus_skew(tmp_path: Path) -> None:
    path = write(tmp_path, "issuer: https://tunnistus.example.fi\n")
    settings = load_settings(path, {"SOTE_BROKER__KEYS__PUBLISH_LEAD_SECONDS": "420"})
    assert settings.min_publish_lead == 300 + 60 + 60
    with pytest.raises(ConfigError, match=r"keys\.publish_lead_seconds: at least 420"):
        load_settings(path, {"SOTE_BROKER__KEYS__PUBLISH_LEAD_SECONDS": "419"})
    development = write(tmp_path, "mode: development\nissuer: http://127.0.0.1:8000\n")
    assert load_settings(development, {"SOTE_BROKER__KEYS__PUBLISH_LEAD_SECONDS": "0"})
