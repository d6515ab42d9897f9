"""What the web app and the CLI both open: the store, the signing keys, the IdP registry."""

from __future__ import annotations

from broker.clock import Clock
from broker.errors import ConfigError
from broker.frontend.oidc.keys import KeyRing
from broker.settings import Settings
from broker.store.base import Store
from broker.store.postgres import PostgresStore
from broker.store.sqlite import SQLiteStore
from broker.upstream.idp_files import load_registry
from broker.upstream.registry import Registry, empty_registry


def open_keyring(settings: Settings, clock: Clock) -> KeyRing:
    """The signing keys; created on first start, refused in production if any is a test key."""
    tokens = settings.tokens
    keys = KeyRing(
        settings.keys.directory,
        clock,
        publish_lead=settings.keys.publish_lead_seconds,
        retention=max(tokens.id_token_ttl, tokens.logout_token_ttl) + tokens.clock_skew,
    )
    keys.ensure(settings.keys.algorithms)
    if settings.mode == "production" and keys.has_test_keys():
        raise ConfigError(f"{settings.keys.directory}: test keys are refused in production mode")
    return keys


def make_store(settings: Settings, *, migrate: bool | None = None) -> Store:
    """The configured backend. PostgreSQL applies migrations on open only in development (or
    when `migrate` says so: `sote-broker migrate`); in production it refuses a database whose
    schema is behind. SQLite, the broker's own file, always migrates on open."""
    config = settings.store
    if config.backend == "postgresql":
        return PostgresStore(
            config.read_dsn(),
            migrate=settings.development if migrate is None else migrate,
            min_size=config.pool_min_size,
            max_size=config.pool_max_size,
            timeout=config.timeout_seconds,
        )
    return SQLiteStore(config.sqlite_path)


def load_idps(settings: Settings) -> Registry:
    if settings.idp_configs is None:
        return empty_registry()
    return load_registry(settings.idp_configs, development=settings.development)
