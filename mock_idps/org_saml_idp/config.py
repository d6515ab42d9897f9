"""The organisations and their test users, read once from `mock_idps/org_saml_users.yaml`.

A bad file stops start-up with a `ConfigError` naming the file, the key and what was expected. An
identity code outside the test individual numbers 900-999 is refused, so a typo cannot become a
real person's code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from mock_idps.oidc_idp.hetu import is_test_hetu

DEFAULT_USERS_FILE = Path(__file__).resolve().parent.parent / "org_saml_users.yaml"
_ORG_ID = re.compile(r"[a-z][a-z0-9-]{0,31}")
SIGN_CHOICES = ("assertion", "response", "both")
_REQUIRED = ("username", "password", "persistent_id", "given_name", "family_name")


class ConfigError(ValueError):
    """The users file is missing, not YAML, or has a key with the wrong shape or value."""


@dataclass(frozen=True)
class User:
    """A fake employee; the optional fields become attributes where the organisation maps them."""

    username: str
    password: str
    persistent_id: str  # the persistent NameID: stable and opaque
    given_name: str
    family_name: str
    email: str | None = None
    upn: str | None = None
    title: str | None = None
    department: str | None = None
    employee_number: str | None = None
    phone_number: str | None = None
    hetu: str | None = None  # henkilötunnus, a test code

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def value(self, field: str) -> str | None:
        """The value of an attribute field; `upn` falls back to the e-mail address."""
        if field == "upn":
            return self.upn or self.email
        value = getattr(self, field)
        return value if isinstance(value, str) else None


FIELDS = frozenset(f.name for f in fields(User)) - {"username", "password", "persistent_id"}
ATTRIBUTE_FIELDS = FIELDS | {"display_name"}


@dataclass(frozen=True)
class Organisation:
    """One IdP entity of the mock, served under `{base_url}/{org_id}`."""

    org_id: str
    short_name: str
    names: Mapping[str, str]
    sign: Literal["assertion", "response", "both"]
    encrypt: bool
    attributes: tuple[tuple[str, str], ...]  # (attribute Name, user field)
    users: tuple[User, ...]

    def user(self, username: str) -> User | None:
        return next((u for u in self.users if u.username == username), None)

    def display_name(self, locale: str) -> str:
        return self.names.get(locale) or self.names["fi"]


def load_organisations(path: Path | None = None) -> dict[str, Organisation]:
    """Read and validate the users file (default: `mock_idps/org_saml_users.yaml`)."""
    path = path or DEFAULT_USERS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the users file: {exc}") from exc
    reader = _Reader(path)
    orgs = data.get("organisations") if isinstance(data, dict) else None
    if not isinstance(orgs, dict) or not orgs:
        raise reader.fail("organisations", "a mapping of at least one organisation")
    return {org_id: reader.organisation(str(org_id), value) for org_id, value in orgs.items()}


class _Reader:
    """Turns the parsed YAML into config objects; every error names the file and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, expected: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: expected {expected}")

    def organisation(self, org_id: str, value: Any) -> Organisation:
        key = f"organisations.{org_id}"
        if not _ORG_ID.fullmatch(org_id):
            raise self.fail(key, "an id of lower-case letters, digits and '-' (it is a URL path)")
        if not isinstance(value, dict):
            raise self.fail(key, "a mapping")
        names = value.get("name")
        if not isinstance(names, dict) or not all(
            isinstance(names.get(locale), str) for locale in ("fi", "sv", "en")
        ):
            raise self.fail(f"{key}.name", "names in fi, sv and en")
        if value.get("sign") not in SIGN_CHOICES:
            raise self.fail(f"{key}.sign", f"one of {', '.join(SIGN_CHOICES)}")
        if not isinstance(value.get("encrypt"), bool):
            raise self.fail(f"{key}.encrypt", "true or false")
        users = value.get("users")
        if not isinstance(users, list) or not users:
            raise self.fail(f"{key}.users", "a list of at least one user")
        org = Organisation(
            org_id=org_id,
            short_name=self.text(value, "short_name", key),
            names=dict(names),
            sign=value["sign"],
            encrypt=value["encrypt"],
            attributes=self.attributes(value.get("attributes"), f"{key}.attributes"),
            users=tuple(self.user(u, f"{key}.users[{i}]") for i, u in enumerate(users)),
        )
        if len({u.username for u in org.users}) != len(org.users):
            raise self.fail(f"{key}.users", "unique usernames")
        if len({u.persistent_id for u in org.users}) != len(org.users):
            raise self.fail(f"{key}.users", "unique persistent_id values")
        return org

    def attributes(self, value: Any, key: str) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, dict) or not value:
            raise self.fail(key, "a mapping of attribute names to user fields")
        for name, field in value.items():
            if field not in ATTRIBUTE_FIELDS:
                raise self.fail(f"{key}.{name}", f"one of {', '.join(sorted(ATTRIBUTE_FIELDS))}")
        return tuple((str(name), str(field)) for name, field in value.items())

    def user(self, value: Any, key: str) -> User:
        if not isinstance(value, dict):
            raise self.fail(key, "a mapping")
        unknown = set(value) - FIELDS - set(_REQUIRED)
        if unknown:
            raise self.fail(f"{key}.{sorted(unknown)[0]}", "a known user field")
        for name in _REQUIRED:
            self.text(value, name, key)
        for name, field_value in value.items():
            if not isinstance(field_value, str) or not field_value.strip():
                raise self.fail(f"{key}.{name}", "a non-empty string")
        if "hetu" in value and not is_test_hetu(value["hetu"]):
            raise self.fail(f"{key}.hetu", "a valid test henkilötunnus (individual number 900-999)")
        return User(**value)

    def text(self, data: Mapping[str, Any], name: str, key: str) -> str:
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key}.{name}", "a non-empty string")
        return value
