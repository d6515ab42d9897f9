"""Typed settings: one YAML file plus environment overrides, validated once at start-up.

Environment variables `SOTE_BROKER__<SECTION>__<KEY>` override the file (values are read as YAML
scalars, so `SOTE_BROKER__REQUIRE_PKCE=false` is a bool). A bad file stops start-up with a
ConfigError that names the file, the key and what was expected.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from broker import paths
from broker.branding import BrandingSettings
from broker.errors import ConfigError
from broker.notices.settings import NoticeSettings
from broker.store.settings import StoreSettings
from broker.upstream.idp_settings import IdPSettings
from broker.upstream.saml.sp_settings import SAMLServiceProviderSettings

ENV_PREFIX = "SOTE_BROKER__"
CONFIG_ENV = "SOTE_BROKER_CONFIG"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KeySettings(_Frozen):
    directory: Path = Path("var/keys")
    algorithms: tuple[Literal["RS256", "ES256"], ...] = ("RS256", "ES256")
    publish_lead_seconds: float = Field(3600, ge=0)
    """A rotated key is published this long before it signs, so portals' JWKS caches see it.
    Production wants at least jwks_cache_seconds + housekeeping_seconds + tokens.clock_skew."""
    jwks_cache_seconds: int = Field(300, ge=0, le=86400)
    """How long portals may cache /jwks (its Cache-Control max-age)."""


class SMTPSettings(_Frozen):
    """Where the one-time codes of e-mail confirmation are sent from. `security`: `starttls`
    (port 587), `tls` (implicit, port 465) or `none`, which production allows only on a loopback
    host (a local relay)."""

    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "none"
    username: str | None = None
    password_file: Path | None = None
    """A file holding the password (never the password itself in the settings)."""
    from_address: str = "sote-broker@localhost"
    timeout_seconds: float = Field(10.0, gt=0)


class AccountSettings(_Frozen):
    audit_retention_days: int = Field(5 * 365, ge=30)
    """How long the account audit trail is kept (it names no person once an account is gone);
    older entries are purged by housekeeping."""
    delete_login_max_age: int = Field(300, ge=30, le=3600)
    """Deleting an account needs a login at most this many seconds old; an older SSO session
    sends the person through a fresh login (prompt=login, SAML ForceAuthn) first."""


class AuditSettings(_Frozen):
    """How long the authentication audit trail and the error events are kept (neither names a
    person); housekeeping purges what is older."""

    login_retention_days: int = Field(365, ge=1)
    """Each completed or failed login (`sote-broker audit export`)."""
    error_retention_days: int = Field(90, ge=1)
    """What happened behind each error id shown on a page (`sote-broker errors show`)."""


class TokenSettings(_Frozen):
    code_ttl: int = Field(60, ge=5, le=600)
    access_token_ttl: int = Field(600, ge=30, le=86400)
    id_token_ttl: int = Field(600, ge=30, le=86400)
    refresh_token_ttl: int = Field(8 * 3600, ge=60)
    session_ttl: int = Field(8 * 3600, ge=60)
    transaction_ttl: int = Field(1800, ge=60)
    logout_token_ttl: int = Field(120, ge=30)
    clock_skew: int = Field(60, ge=0, le=600)
    client_assertion_max_age: int = Field(3600, ge=30, le=7200)
    """Longest exp - now accepted in a private_key_jwt assertion (authlib signs for 3600 s)."""


class BackchannelSettings(_Frozen):
    timeout_seconds: float = Field(5.0, gt=0)
    max_attempts: int = Field(6, ge=1)
    retry_base_seconds: float = Field(10.0, gt=0)
    poll_seconds: float = Field(5.0, gt=0)


class RateLimit(_Frozen):
    """At most `hits` requests per fixed window of `seconds`."""

    hits: int = Field(ge=1)
    seconds: int = Field(ge=1, le=86400)


class LimitSettings(_Frozen):
    """What an anonymous client can make the broker do (docs/security.md, Limits on anonymous
    clients). A rate limit set to null is off; the counters live in the store, so they hold
    across every broker process sharing it."""

    max_body_bytes: int = Field(64 * 1024, ge=1024)
    """The largest request body; more is refused with 413 before it is read."""
    max_saml_post_bytes: int = Field(600 * 1024, ge=1024)
    """The largest body at the SAML ACS (a signed, encrypted SAMLResponse, base64 and
    form-encoded)."""
    authorize_per_ip: RateLimit | None = RateLimit(hits=600, seconds=60)
    authorize_per_client: RateLimit | None = RateLimit(hits=6000, seconds=60)
    token_per_ip: RateLimit | None = RateLimit(hits=1200, seconds=60)
    token_per_client: RateLimit | None = RateLimit(hits=1200, seconds=60)
    """Counted once the portal has authenticated, so others cannot use a portal's share."""
    saml_acs_per_ip: RateLimit | None = RateLimit(hits=300, seconds=60)
    journey_per_ip: RateLimit | None = RateLimit(hits=1200, seconds=60)
    """The journey's and the account pages' forms (POST under /login/ and /account/)."""
    email_codes_per_address: RateLimit | None = RateLimit(hits=10, seconds=3600)
    """One-time codes sent to one e-mail address, whatever the login or the sender."""
    jwks_refetch_seconds: float = Field(60.0, ge=0, le=3600)
    """A portal's jwks_uri is fetched again for an unknown kid at most once in this time."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses (or CIDR networks) of the load balancers whose X-Forwarded-For and
    X-Forwarded-Proto are believed; none: the client address is the socket's."""

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, proxies: tuple[str, ...]) -> tuple[str, ...]:
        for proxy in proxies:
            ipaddress.ip_network(proxy, strict=False)  # ValueError names what is wrong
        return proxies


class MetricsSettings(_Frozen):
    """Prometheus metrics at /metrics on the broker's own port, off by default, and then only to
    clients in `allowed_networks` (by the address uvicorn gives: the socket's, or with
    `limits.trusted_proxies` the forwarded one). The load balancer should refuse /metrics too
    (docs/operating.md, Health and metrics)."""

    enabled: bool = False
    allowed_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")

    @field_validator("allowed_networks")
    @classmethod
    def _check_networks(cls, networks: tuple[str, ...]) -> tuple[str, ...]:
        for network in networks:
            ipaddress.ip_network(network, strict=False)  # ValueError names what is wrong
        return networks


class HealthSettings(_Frozen):
    idps_decide_readiness: bool = True
    """/health/ready answers 503 while any enabled IdP is unusable (SAML metadata missing or
    past validUntil). Every replica sees the same IdP at once, so with this on one IdP's expired
    metadata takes every replica out of the load balancer: a deployment that would rather keep
    the other IdPs' logins running sets it false and alerts on sote_broker_idp_usable."""


class LoggingSettings(_Frozen):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = False


class Settings(_Frozen):
    mode: Literal["development", "production"] = "production"
    issuer: str
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    subject_key_file: Path = Path("var/subject-key")
    """The key of the keyed hash that turns an upstream identity into the portal's `sub`. Never
    rotate it: every `sub` would change. Created (0600) if missing, in production only on a store
    without identities or by `sote-broker init` (`broker/instance_secrets.py`); back it up."""
    secret_file: Path = Path("var/cookie-secret")
    """Cookie and CSRF signing keys, one per line, newest signs; created (0600) if missing, as the
    subject key is."""
    acr_values_supported: tuple[str, ...] = (
        "http://ftn.ficora.fi/2017/loa2",
        "http://ftn.ficora.fi/2017/loa3",
    )
    require_pkce: bool = True
    housekeeping_seconds: float = Field(60.0, gt=0, le=3600)
    """How often each process picks up keys changed by the CLI or another replica (signing key
    rotation, the SAML SP key rollover); one process at a time (a lease in the store, lasting
    three rounds) also purges expired rows and prunes expired keys."""
    idp_configs: Path | None = None
    """The directory of upstream IdP files (idp_configs/); none means no login routes."""
    idps: IdPSettings = IdPSettings()
    store: StoreSettings = StoreSettings()
    saml_sp: SAMLServiceProviderSettings = SAMLServiceProviderSettings()
    keys: KeySettings = KeySettings()
    tokens: TokenSettings = TokenSettings()
    backchannel: BackchannelSettings = BackchannelSettings()
    smtp: SMTPSettings = SMTPSettings()
    accounts: AccountSettings = AccountSettings()
    audit: AuditSettings = AuditSettings()
    limits: LimitSettings = LimitSettings()
    metrics: MetricsSettings = MetricsSettings()
    health: HealthSettings = HealthSettings()
    logging: LoggingSettings = LoggingSettings()
    notices: NoticeSettings = NoticeSettings()
    branding: BrandingSettings = BrandingSettings()

    @model_validator(mode="after")
    def _check_issuer(self) -> Settings:
        parts = urlsplit(self.issuer)
        if parts.query or parts.fragment or not parts.netloc or self.issuer.endswith("/"):
            raise ValueError("issuer must be an absolute URL without query, fragment or trailing /")
        if self.mode == "production":
            if parts.scheme != "https":
                raise ValueError("production mode requires an https issuer")
            loopback = self.smtp.host in ("127.0.0.1", "::1", "localhost")
            if self.smtp.security == "none" and not loopback:
                raise ValueError("production mode requires smtp.security starttls or tls")
            if self.store.dsn is not None:
                raise ValueError("production mode takes store.dsn_file or store.dsn_env, not dsn")
            if self.keys.publish_lead_seconds < self.min_publish_lead:
                raise ValueError(
                    f"keys.publish_lead_seconds: at least {self.min_publish_lead:g} in production "
                    "(keys.jwks_cache_seconds + housekeeping_seconds + tokens.clock_skew), so "
                    "that every portal can have seen a rotated key before it signs"
                )
        elif parts.scheme not in ("http", "https"):
            raise ValueError("issuer must be http(s)")
        return self

    @property
    def min_publish_lead(self) -> float:
        """The shortest safe publish lead: a portal's cached JWKS expires, every broker process
        picks the new key file up (housekeeping), and clocks may differ by the skew."""
        return self.keys.jwks_cache_seconds + self.housekeeping_seconds + self.tokens.clock_skew

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")

    @property
    def saml_entity_id(self) -> str:
        return self.saml_sp.entity_id or self.issuer + paths.SAML_METADATA

    @property
    def development(self) -> bool:
        return self.mode == "development"


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the YAML file named by `path` or $SOTE_BROKER_CONFIG, apply env overrides, validate."""
    env = os.environ if environ is None else environ
    if path is None and env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
    data = _read_yaml(path) if path is not None else {}
    _apply_env_overrides(data, env)
    source = str(path) if path is not None else "environment"
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from exc
    return _resolve_paths(settings, path.parent if path is not None else Path.cwd())


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read settings file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return loaded


def _apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        if not keys:
            continue
        node = data
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {key} is not a section")
            node = child
        node[keys[-1]] = yaml.safe_load(raw) if raw else raw


def _describe(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: invalid settings"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {key}: {err['msg']}")
    return "\n".join(lines)


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """Relative paths in the file are relative to the file, not to the working directory."""

    def resolve(p: Path) -> Path:
        return p if p.is_absolute() else (base / p).resolve()

    return settings.model_copy(
        update={
            "secret_file": resolve(settings.secret_file),
            "subject_key_file": resolve(settings.subject_key_file),
            "store": settings.store.model_copy(
                update={
                    "sqlite_path": resolve(settings.store.sqlite_path),
                    "dsn_file": resolve(settings.store.dsn_file)
                    if settings.store.dsn_file
                    else None,
                }
            ),
            "keys": settings.keys.model_copy(
                update={"directory": resolve(settings.keys.directory)}
            ),
            "idp_configs": resolve(settings.idp_configs) if settings.idp_configs else None,
            "saml_sp": settings.saml_sp.model_copy(
                update={"key_directory": resolve(settings.saml_sp.key_directory)}
            ),
            "smtp": settings.smtp.model_copy(
                update={
                    "password_file": resolve(settings.smtp.password_file)
                    if settings.smtp.password_file
                    else None
                }
            ),
        }
    )
