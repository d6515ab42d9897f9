"""The mock IdP's configuration: organisations, their test users, and the clients they accept.

Read once at start-up from `mock_idps/test_users.yaml` (or another file) into frozen objects. A bad
file stops start-up with a `ConfigError` that names the file, the key and what was expected, so a
tester who edits the YAML learns what is wrong before the first login, not during it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mock_idps.oidc_idp.hetu import is_test_hetu

DEFAULT_USERS_FILE = Path(__file__).resolve().parent.parent / "test_users.yaml"
LOCALES = ("fi", "sv", "en")
_ORG_ID = re.compile(r"[a-z][a-z0-9-]{0,31}")
_CLAIM_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Claims the mock sets itself; a user's `claims:` must not override them.
_RESERVED_CLAIMS = frozenset(
    {
        *("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash"),
        *("name", "given_name", "family_name", "email", "email_verified"),
        *("phone_number", "phone_number_verified"),
    }
)


class ConfigError(ValueError):
    """The users file is missing, not YAML, or has a key with the wrong shape or value."""


@dataclass(frozen=True)
class Client:
    """A relying party that every organisation of the mock accepts (the broker, a test portal)."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...] = ()
    require_pkce: bool = True


@dataclass(frozen=True)
class UserAccount:
    """A fake person at one organisation; `claims` are that organisation's own (title, hetu...)."""

    username: str
    password: str
    sub: str
    given_name: str
    family_name: str
    name: str
    email: str | None
    phone_number: str | None
    claims: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Organisation:
    """One issuer of the mock, served under `{base_url}/{org_id}`."""

    org_id: str
    short_name: str
    names: Mapping[str, str]
    acr_values_supported: tuple[str, ...]
    default_acr: str
    users: tuple[UserAccount, ...]

    def user(self, username: str) -> UserAccount | None:
        return next((u for u in self.users if u.username == username), None)

    def user_by_sub(self, sub: str) -> UserAccount | None:
        return next((u for u in self.users if u.sub == sub), None)

    def display_name(self, locale: str) -> str:
        return self.names.get(locale) or self.names["fi"]

    def choose_acr(self, requested: Sequence[str]) -> str:
        """The first requested value this organisation supports, else its default."""
        return next((a for a in requested if a in self.acr_values_supported), self.default_acr)


@dataclass(frozen=True)
class IdPConfig:
    organisations: Mapping[str, Organisation]
    clients: Mapping[str, Client]

    def with_clients(self, clients: Iterable[Client]) -> IdPConfig:
        """Add clients, replacing any configured client with the same client_id."""
        merged = dict(self.clients) | {c.client_id: c for c in clients}
        return dataclasses.replace(self, clients=merged)

    def with_redirect_uris(
        self, redirect_uris: Sequence[str], post_logout_redirect_uris: Sequence[str] = ()
    ) -> IdPConfig:
        """Register extra (e.g. random-port) redirect URIs for every client."""
        clients = {
            cid: dataclasses.replace(
                c,
                redirect_uris=_union(c.redirect_uris, redirect_uris),
                post_logout_redirect_uris=_union(
                    c.post_logout_redirect_uris, post_logout_redirect_uris
                ),
            )
            for cid, c in self.clients.items()
        }
        return dataclasses.replace(self, clients=clients)


def load_config(path: Path | None = None) -> IdPConfig:
    """Read and validate the users file (default: `mock_idps/test_users.yaml`)."""
    path = path or DEFAULT_USERS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the users file: {exc}") from exc
    return _Reader(path).config(data)


def _union(first: Sequence[str], second: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *second]))


class _Reader:
    """Turns the parsed YAML into config objects; every error names the file and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, expected: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: expected {expected}")

    def mapping(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise self.fail(key, "a mapping")
        return value

    def text(self, data: Mapping[str, Any], name: str, key: str, *, required: bool = True) -> Any:
        value = data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key}.{name}", "a non-empty string")
        return value

    def texts(self, data: Mapping[str, Any], name: str, key: str) -> tuple[str, ...]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(f"{key}.{name}", "a list of strings")
        return tuple(value)

    def config(self, data: Any) -> IdPConfig:
        root = self.mapping(data, "(top level)")
        orgs = self.mapping(root.get("organisations"), "organisations")
        if not orgs:
            raise self.fail("organisations", "at least one organisation")
        clients = root.get("clients", [])
        if not isinstance(clients, list):
            raise self.fail("clients", "a list")
        config = IdPConfig(
            organisations={oid: self.organisation(oid, v) for oid, v in orgs.items()},
            clients={c.client_id: c for c in (self.client(i, v) for i, v in enumerate(clients))},
        )
        self.check_unique_subs(config)
        return config

    def client(self, index: int, value: Any) -> Client:
        key = f"clients[{index}]"
        data = self.mapping(value, key)
        require_pkce = data.get("require_pkce", True)
        if not isinstance(require_pkce, bool):
            raise self.fail(f"{key}.require_pkce", "true or false")
        redirect_uris = self.texts(data, "redirect_uris", key)
        if not redirect_uris:
            raise self.fail(f"{key}.redirect_uris", "at least one exact redirect URI")
        return Client(
            client_id=self.text(data, "client_id", key),
            client_secret=self.text(data, "client_secret", key),
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=self.texts(data, "post_logout_redirect_uris", key),
            require_pkce=require_pkce,
        )

    def organisation(self, org_id: str, value: Any) -> Organisation:
        key = f"organisations.{org_id}"
        if not _ORG_ID.fullmatch(org_id):
            raise self.fail(key, "an id of lower-case letters, digits and '-' (it is a URL path)")
        data = self.mapping(value, key)
        names = self.mapping(data.get("name"), f"{key}.name")
        if "fi" not in names or not all(isinstance(v, str) for v in names.values()):
            raise self.fail(f"{key}.name", "display names as strings, at least `fi`")
        supported = self.texts(data, "acr_values_supported", key)
        default_acr = self.text(data, "default_acr", key)
        if supported and default_acr not in supported:
            raise self.fail(f"{key}.default_acr", "one of acr_values_supported")
        users = data.get("users")
        if not isinstance(users, list) or not users:
            raise self.fail(f"{key}.users", "a list of at least one user")
        org = Organisation(
            org_id=org_id,
            short_name=self.text(data, "short_name", key),
            names=dict(names),
            acr_values_supported=supported or (default_acr,),
            default_acr=default_acr,
            users=tuple(self.user(f"{key}.users[{i}]", u) for i, u in enumerate(users)),
        )
        if len({u.username for u in org.users}) != len(org.users):
            raise self.fail(f"{key}.users", "unique usernames")
        return org

    def user(self, key: str, value: Any) -> UserAccount:
        data = self.mapping(value, key)
        given, family = self.text(data, "given_name", key), self.text(data, "family_name", key)
        return UserAccount(
            username=self.text(data, "username", key),
            password=self.text(data, "password", key),
            sub=self.text(data, "sub", key),
            given_name=given,
            family_name=family,
            name=self.text(data, "name", key, required=False) or f"{given} {family}",
            email=self.text(data, "email", key, required=False),
            phone_number=self.text(data, "phone_number", key, required=False),
            claims=self.claims(key, data.get("claims", {})),
        )

    def claims(self, key: str, value: Any) -> dict[str, str]:
        claims = self.mapping(value, f"{key}.claims")
        for name, claim in claims.items():
            if not _CLAIM_NAME.fullmatch(name) or name in _RESERVED_CLAIMS:
                raise self.fail(f"{key}.claims.{name}", "a claim name the mock does not set")
            if not isinstance(claim, str):
                raise self.fail(f"{key}.claims.{name}", "a string")
        hetu = claims.get("hetu")
        if hetu is not None and not is_test_hetu(hetu):
            raise self.fail(
                f"{key}.claims.hetu", "a valid test henkilötunnus (individual number 900-999)"
            )
        return dict(claims)

    def check_unique_subs(self, config: IdPConfig) -> None:
        subs = [u.sub for org in config.organisations.values() for u in org.users]
        if len(set(subs)) != len(subs):
            raise self.fail("organisations.*.users.*.sub", "a `sub` unique across organisations")
