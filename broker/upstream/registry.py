"""Upstream IdPs and the choices that lead to them, loaded from `idp_configs/*.yaml`.

`journey.yaml` holds the roles, routes and groups (the choice pages); every other file is one IdP.
Adding an organisation means adding a file. Everything is validated at start-up into frozen typed
objects; a bad file stops start-up with a ConfigError naming the file, the key and what was wanted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from broker.claims.mapping import ClaimMapping
from broker.errors import ConfigError

JOURNEY_FILE = "journey.yaml"
LOCALES = ("fi", "sv", "en")
Registration = Literal["required", "automatic"]
"""How a first login without an account goes on: `required`, to the registration form;
`automatic`, an account made at once from what the IdP said (organisation identification)."""
REGISTRATION_BY_KIND: dict[str, Registration] = {
    "personal": "required",
    "organisation": "automatic",
}
HIGH_ASSURANCE = ("http://ftn.ficora.fi/2017/loa3", "http://eidas.europa.eu/LoA/high")
"""The acr values of a high level of assurance (Suomi.fi loa3 and its eIDAS equivalent)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Names(_Frozen):
    """A display name in each of the service's languages."""

    fi: str
    sv: str
    en: str

    def get(self, locale: str) -> str:
        return str(getattr(self, locale, self.fi))


class SecretRef(_Frozen):
    """Where a secret comes from: an environment variable, a file, or (development only) inline."""

    env: str | None = None
    file: Path | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if sum(x is not None for x in (self.env, self.file, self.value)) != 1:
            raise ValueError("give exactly one of env, file or value")
        return self

    def resolve(self) -> str:
        if self.value is not None:
            return self.value
        if self.env is not None:
            found = os.environ.get(self.env)
            if not found:
                raise ConfigError(f"environment variable {self.env} is not set")
            return found
        if self.file is None:
            raise ConfigError("secret reference without env, file or value")
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{self.file}: cannot read secret ({exc.strerror})") from exc


class OIDCUpstream(_Frozen):
    issuer: str
    discovery_url: str | None = None
    client_id: str
    client_secret: SecretRef
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post"] = (
        "client_secret_basic"  # noqa: S105 - a method name
    )
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    use_userinfo: bool = True
    timeout_seconds: float = Field(10.0, gt=0, le=60)
    id_token_algs: tuple[str, ...] = ("RS256", "ES256")

    @property
    def metadata_url(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"


class RequestedAttribute(_Frozen):
    """An attribute the SP metadata asks for: its Name (an OID URI), the FriendlyName shown to
    operators, and whether the service needs it (isRequired)."""

    name: str
    friendly_name: str | None = None
    required: bool = False


EncryptionAlgorithm = Literal[
    "aes128-gcm",
    "aes192-gcm",
    "aes256-gcm",
    "aes128-cbc",
    "aes192-cbc",
    "aes256-cbc",
    "rsa-oaep-mgf1p",
    "rsa-oaep",
    "rsa-1_5",
]
"""XML Encryption algorithms by their short names (`decryption` maps them to their URIs):
data encryption (aes*) and key transport (rsa-*)."""

DEFAULT_ENCRYPTION: tuple[EncryptionAlgorithm, ...] = (
    "aes128-gcm",
    "aes256-gcm",
    "rsa-oaep-mgf1p",
    "rsa-oaep",
)


class SAMLUpstream(_Frozen):
    """A SAML 2.0 IdP (Suomi.fi e-Identification, or an organisation's SAML IdP)."""

    metadata_url: str | None = None
    metadata_file: Path | None = None
    entity_id: str | None = None
    """The IdP's entity id, checked against its metadata."""
    want_response_signed: bool = False
    want_assertions_signed: bool = True
    want_assertions_encrypted: bool = True
    """Suomi.fi encrypts assertions; an organisation IdP that cannot may set this false."""
    encryption_algorithms: tuple[EncryptionAlgorithm, ...] = DEFAULT_ENCRYPTION
    """What the IdP may encrypt assertions with: AES-GCM and RSA-OAEP unless this says more.
    AES-CBC and RSA 1.5 (padding oracles) are used only if listed here, and even then only in
    a Response whose own signature verified (`decryption`)."""
    allow_unsolicited: bool = False
    name_id_format: Literal["transient", "persistent", "unspecified"] = "transient"
    """The NameIDPolicy Format of the AuthnRequests: Suomi.fi's NameID is transient; an
    organisation's IdP may give a persistent one, which can then be the subject."""
    requested_attributes: tuple[RequestedAttribute, ...] = ()
    """What the SP metadata asks for; Suomi.fi releases only these. A plain string is a Name."""
    metadata_refresh_seconds: float = Field(3600, gt=0)
    """The longest the metadata is kept before the background refresh fetches it again; its own
    cacheDuration and validUntil may make that sooner."""
    metadata_signing_certificates: tuple[Path, ...] = ()
    """PEM certificates, one of which must have signed the metadata (enveloped, on its root);
    two while the metadata's signer rolls its key. Empty: the metadata's signature is not
    checked (refused in production for a metadata_url)."""

    @field_validator("metadata_signing_certificates", mode="before")
    @classmethod
    def _one_certificate_alone(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | Path) else value

    @field_validator("requested_attributes", mode="before")
    @classmethod
    def _names_alone(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("encryption_algorithms")
    @classmethod
    def _data_and_key_transport(
        cls, value: tuple[EncryptionAlgorithm, ...]
    ) -> tuple[EncryptionAlgorithm, ...]:
        kinds = {name.startswith("rsa-") for name in value}
        if kinds != {True, False}:
            raise ValueError("name at least one aes* (data) and one rsa-* (key transport)")
        return value

    @model_validator(mode="after")
    def _one_metadata_source(self) -> SAMLUpstream:
        if (self.metadata_url is None) == (self.metadata_file is None):
            raise ValueError("give exactly one of metadata_url or metadata_file")
        return self


class IdP(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    names: Names
    route: Literal["organisation", "personal"]
    group: str | None = None
    protocol: Literal["oidc", "saml"]
    enabled: bool = True
    email_domains: tuple[str, ...] = ()
    oidc: OIDCUpstream | None = None
    saml: SAMLUpstream | None = None
    claims: ClaimMapping = ClaimMapping()
    registration: Registration | None = None
    """Overrides its route's `registration` (e.g. `required` for an organisation whose IdP sends
    too little to make an account from)."""
    verifies_email: bool = False
    """Whether the e-mail address this IdP sends is one it has verified as the person's: an
    account made automatically then releases it as `email_verified: true`. False: unverified
    until the person confirms it with a code on the account page."""
    default_acr: str | None = None
    """The acr to assume when the IdP sends none (an organisation's password login: loa2)."""
    subject: str | None = None
    """The claim that identifies the person when the protocol's subject is transient (Suomi.fi's
    NameID is): e.g. the national identity code attribute. None: the protocol's subject."""
    trust_identity_code: bool = False
    """Whether the identity code this IdP sends is verified enough to be the person's: to find
    and link their account by it, and to release it to portals. False: what it sends as `hetu`
    is dropped at normalisation (see `broker.claims.mapping`)."""
    identity_code_acr: tuple[str, ...] = HIGH_ASSURANCE
    """The levels (acr, after the claim mapping's `acr_values`) at which a login of a trusted IdP
    may find and link an account by the identity code: the minimum and every level above it,
    listed, as the portals' `acr_values` are. A login at another level is not linked by it."""

    @model_validator(mode="after")
    def _protocol_section(self) -> IdP:
        if self.protocol == "oidc" and (self.oidc is None or self.saml is not None):
            raise ValueError("protocol oidc needs an oidc section and no saml section")
        if self.protocol == "saml" and (self.saml is None or self.oidc is not None):
            raise ValueError("protocol saml needs a saml section and no oidc section")
        if self.trust_identity_code and self.claims.hetu is None:
            raise ValueError("trust_identity_code: true needs claims.hetu (the code's claim)")
        return self

    @property
    def organisation_name(self) -> str:
        """Its Finnish name: the `organisation_name` claim (`broker.claims.mapping`)."""
        return self.names.fi

    @property
    def oidc_settings(self) -> OIDCUpstream:
        if self.oidc is None:
            raise ConfigError(f"{self.id}: not an OIDC IdP")
        return self.oidc

    @property
    def saml_settings(self) -> SAMLUpstream:
        if self.saml is None:
            raise ConfigError(f"{self.id}: not a SAML IdP")
        return self.saml


class Choice(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    names: Names
    descriptions: Names | None = None


class Role(Choice):
    routes: tuple[str, ...]


class Route(Choice):
    kind: Literal["organisation", "personal"]
    groups: tuple[str, ...] = ()
    idps: tuple[str, ...] = ()
    registration: Registration | None = None
    """None: by kind (`REGISTRATION_BY_KIND`): personal `required`, organisation `automatic`."""


class JourneyConfig(_Frozen):
    roles: tuple[Role, ...]
    routes: tuple[Route, ...]
    groups: tuple[Choice, ...] = ()


class Registry:
    """Read-only lookups over the loaded configuration."""

    def __init__(self, journey: JourneyConfig, idps: Mapping[str, IdP]) -> None:
        self.journey = journey
        self._idps = dict(idps)
        self._check_references()

    def _check_references(self) -> None:
        routes = {r.id for r in self.journey.routes}
        groups = {g.id for g in self.journey.groups}
        for role in self.journey.roles:
            _refuse_unknown(f"role {role.id}: routes", role.routes, routes)
        for route in self.journey.routes:
            _refuse_unknown(f"route {route.id}: groups", route.groups, groups)
            _refuse_unknown(f"route {route.id}: idps", route.idps, set(self._idps))
        for idp in self._idps.values():
            if idp.group is not None and idp.group not in groups:
                raise ConfigError(f"{idp.id}.yaml: group: unknown group {idp.group!r}")

    def idp(self, idp_id: str) -> IdP | None:
        idp = self._idps.get(idp_id)
        return idp if idp is not None and idp.enabled else None

    def idps(self) -> list[IdP]:
        return [i for i in self._idps.values() if i.enabled]

    def role(self, role_id: str) -> Role | None:
        return next((r for r in self.journey.roles if r.id == role_id), None)

    def route(self, route_id: str) -> Route | None:
        return next((r for r in self.journey.routes if r.id == route_id), None)

    def group(self, group_id: str) -> Choice | None:
        return next((g for g in self.journey.groups if g.id == group_id), None)

    def idps_in_group(self, group_id: str) -> list[IdP]:
        return sorted(
            (i for i in self.idps() if i.group == group_id), key=lambda i: i.names.fi.casefold()
        )

    def registration(self, idp: IdP) -> Registration:
        """The IdP's own setting, else its route's (the route that offers it by group or by
        name), else the default of its kind."""
        if idp.registration is not None:
            return idp.registration
        for route in self.journey.routes:
            if idp.id in route.idps or (idp.group is not None and idp.group in route.groups):
                if route.registration is not None:
                    return route.registration
                return REGISTRATION_BY_KIND[route.kind]
        return REGISTRATION_BY_KIND[idp.route]

    def idp_for_email(self, email: str) -> IdP | None:
        domain = email.rpartition("@")[2].strip().lower()
        return next((i for i in self.idps() if domain and domain in i.email_domains), None)


def empty_registry() -> Registry:
    """No roles, no IdPs: a broker without `idp_configs`, which can log nobody in (its OpenID
    Provider endpoints still answer, and /authorize says no login route is available)."""
    return Registry(JourneyConfig(roles=(), routes=()), {})


def _refuse_unknown(where: str, named: tuple[str, ...], known: set[str]) -> None:
    if missing := set(named) - known:
        raise ConfigError(f"{JOURNEY_FILE}: {where}: unknown {sorted(missing)}")
