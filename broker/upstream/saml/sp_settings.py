"""The broker's SAML service provider's settings (`saml_sp:`): its keys, crypto backend, and what
its metadata says of the organisation, the service and its contacts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Localised(_Frozen):
    """A text in each of the service's languages."""

    fi: str
    sv: str
    en: str


class EntityAttribute(_Frozen):
    """One saml:Attribute in the SP metadata's mdattr:EntityAttributes (NameFormat uri)."""

    name: str = Field(min_length=1)
    friendly_name: str | None = None
    values: tuple[str, ...] = Field(min_length=1)


class SAMLServiceProviderSettings(_Frozen):
    """The broker as a SAML service provider towards SAML IdPs (Suomi.fi); the organisation,
    service and contact settings go into its SP metadata."""

    entity_id: str | None = None
    """Default: the issuer + /saml/metadata (where the signed SP metadata is served)."""
    key_directory: Path = Path("var/saml-keys")
    metadata_check_seconds: float = Field(30.0, gt=0, le=3600)
    """How often the background looks whether an IdP's metadata is due for a refresh (each
    IdP's own `saml.metadata_refresh_seconds` says when it is)."""
    crypto_backend: Literal["xmlsec", "xmlsec1"] = "xmlsec"
    """Who checks the IdPs' XML signatures, decrypts their assertions and signs the SP metadata:
    `xmlsec` in process (the python-xmlsec binding, several times faster), or `xmlsec1`, one
    run of that program per signature. Both make the same checks (`broker/upstream/saml/crypto.py`);
    only `xmlsec1` needs the program installed."""
    organisation_name: str = "sote-broker"
    organisation_names: Localised | None = None
    """Organization's name in fi, sv and en; default: organisation_name in each."""
    organisation_url: str | None = None
    service_names: Localised | None = None
    """The service's name (ServiceName and mdui:DisplayName); default: the organisation's."""
    contact_email: str | None = None
    """A technical ContactPerson."""
    support_email: str | None = None
    """A support ContactPerson."""
    entity_attributes: tuple[EntityAttribute, ...] = ()
    """mdattr:EntityAttributes of the SP metadata: Suomi.fi reads the accepted methods
    (FinnishAuthMethod) and its service options from them (README: Suomi.fi)."""

    def organisation(self) -> Localised:
        name = self.organisation_name
        return self.organisation_names or Localised(fi=name, sv=name, en=name)
