"""The broker as one SAML 2.0 service provider: its pysaml2 settings and its signed metadata.

    ServiceProvider       entity id + keys (`sp_keys`) + crypto backend (`crypto`:
                          in process, or the xmlsec1 program): builds the pysaml2 `SPConfig` in
                          code, and the `Saml2Client` with the broker's SecurityContext
    sp_metadata_xml       the SP's EntityDescriptor, enveloped-signed (RSA-SHA256, SHA-256), for
                          the IdP operators (Suomi.fi registers it; the mock reads it)

The IdP side (its metadata and the pysaml2 client built on it) is in `idp_metadata`.
pysaml2 signs with RSA-SHA1 unless told otherwise, so the algorithms go into every config and
every call. Only `pysaml2.py` imports `saml2`. Everything here blocks (XML signatures, RSA): call
it at start-up or in a thread.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from broker.upstream.registry import RequestedAttribute
from broker.upstream.saml.crypto import CryptoBackendName, check_backend, security_context
from broker.upstream.saml.decryption import EncryptionPolicy
from broker.upstream.saml.pysaml2 import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    DIGEST_SHA256,
    NAME_FORMAT_URI,
    NAMEID_FORMAT_TRANSIENT,
    SIG_RSA_SHA256,
    Saml2Client,
    SPConfig,
    algsupport,
    entity_descriptor,
    md,
    sign_entity_descriptor,
)
from broker.upstream.saml.sp_keys import ServiceProviderKeys, SPKeyRing
from broker.upstream.saml.sp_metadata import attribute_names, describe_service

__all__ = [
    "DIGEST_ALG",
    "SIGN_ALG",
    "Contact",
    "EntityAttribute",
    "Organisation",
    "ServiceProvider",
    "sp_metadata_xml",
]

SIGN_ALG: Final = SIG_RSA_SHA256
DIGEST_ALG: Final = DIGEST_SHA256


# -- the service provider ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceProvider:
    """The broker's SAML identity: one entity id and key set for every SAML IdP, and the crypto
    backend that verifies, decrypts and signs for it (`crypto`). `key_source` is the
    running broker's `SPKeyRing` (re-read when a rollover step changes it), or one fixed
    `ServiceProviderKeys`."""

    entity_id: str
    key_source: SPKeyRing | ServiceProviderKeys
    xmlsec_binary: str = field(default_factory=lambda: shutil.which("xmlsec1") or "")
    crypto_backend: CryptoBackendName = "xmlsec"

    @classmethod
    def load(
        cls, entity_id: str, key_directory: Path, crypto_backend: CryptoBackendName = "xmlsec"
    ) -> ServiceProvider:
        """At start-up: the keys (made on first start) and a backend that can run here, or a
        ConfigError (xmlsec1 missing, or the xmlsec module unusable)."""
        check_backend(crypto_backend, shutil.which("xmlsec1") or "")
        return cls(entity_id, SPKeyRing(key_directory), crypto_backend=crypto_backend)

    @property
    def keys(self) -> ServiceProviderKeys:
        source = self.key_source
        return source.keys if isinstance(source, SPKeyRing) else source

    def settings(
        self,
        *,
        acs_url: str,
        slo_url: str | None = None,
        idp_metadata: Sequence[str] = (),
        **sp: Any,
    ) -> dict[str, Any]:
        """pysaml2 settings; `sp` adds to or overrides the `service.sp` section."""
        check_backend(self.crypto_backend, self.xmlsec_binary)
        endpoints: dict[str, Any] = {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]}
        if slo_url:  # the broker's SLO endpoint takes HTTP-Redirect only
            endpoints["single_logout_service"] = [(slo_url, BINDING_HTTP_REDIRECT)]
        keys = self.keys
        pairs = [
            {"key_file": str(pair.key_file), "cert_file": str(pair.cert_file)}
            for _, pair in keys.pairs()
        ]
        return {
            "entityid": self.entity_id,
            "service": {
                "sp": {
                    "endpoints": endpoints,
                    "authn_requests_signed": True,
                    "want_assertions_signed": True,
                    "want_assertions_or_response_signed": True,
                    "name_id_format": NAMEID_FORMAT_TRANSIENT,
                    "name_id_policy_format": NAMEID_FORMAT_TRANSIENT,
                    "requested_attribute_name_format": NAME_FORMAT_URI,
                    **sp,
                }
            },
            # The active pair signs; every pair of a rollover is published and decrypts.
            "key_file": str(keys.key_file),
            "cert_file": str(keys.cert_file),
            "additional_cert_files": [str(pair.cert_file) for pair in keys.others()],
            "encryption_keypairs": pairs,
            **self._backend_settings(),
            "metadata": {"inline": list(idp_metadata)} if idp_metadata else {},
            "signing_algorithm": SIGN_ALG,
            "digest_algorithm": DIGEST_ALG,
            "only_use_keys_in_metadata": True,
            "allow_unknown_attributes": True,
            "delete_tmpfiles": True,
        }

    def _backend_settings(self) -> dict[str, str]:
        """For xmlsec1, the program. In process: pysaml2's `Entity.__init__` builds a
        SecurityContext from `crypto_backend` before `client` replaces it, and only its
        "XMLSecurity" one needs nothing installed to be built (it is never used)."""
        if self.crypto_backend == "xmlsec1":
            return {"xmlsec_binary": self.xmlsec_binary}
        return {"crypto_backend": "XMLSecurity"}

    def config(self, settings: Mapping[str, Any]) -> Any:
        """A loaded pysaml2 `SPConfig` (blocking: parses the inline metadata)."""
        config = SPConfig()
        config.load(dict(settings))
        return config

    def security(self, config: Any, encryption: EncryptionPolicy | None = None) -> Any:
        """The pysaml2 SecurityContext for `config`, with this SP's crypto backend, decrypting
        by `encryption` (the IdP's policy; the default one if None)."""
        return security_context(config, self.crypto_backend, encryption)

    def client(self, config: Any, encryption: EncryptionPolicy | None = None) -> Any:
        """A pysaml2 `Saml2Client` on `config` whose every signature check, decryption and
        signature goes through this SP's crypto backend."""
        client = Saml2Client(config=config)
        client.sec = self.security(config, encryption)
        return client


# -- metadata ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Organisation:
    """md:Organization; each mapping is language code → text (fi, sv, en)."""

    names: Mapping[str, str]
    urls: Mapping[str, str]
    display_names: Mapping[str, str] | None = None


@dataclass(frozen=True)
class EntityAttribute:
    """A saml:Attribute of mdattr:EntityAttributes (Suomi.fi: FinnishAuthMethod and others)."""

    name: str
    values: Sequence[str]
    friendly_name: str | None = None


@dataclass(frozen=True)
class Contact:
    """md:ContactPerson; `contact_type` technical, support, administrative, billing or other."""

    contact_type: str
    email: str
    given_name: str | None = None
    sur_name: str | None = None
    company: str | None = None


def sp_metadata_xml(
    entity_id: str,
    acs_url: str,
    slo_url: str | None,
    keys: ServiceProviderKeys,
    requested_attributes: Sequence[str | RequestedAttribute] = (),
    *,
    organisation: Organisation | None = None,
    contacts: Sequence[Contact] = (),
    service_name: str = "sote-broker",
    service_names: Mapping[str, str] | None = None,
    valid_hours: int | None = None,
    xmlsec_binary: str | None = None,
    entity_attributes: Sequence[EntityAttribute] = (),
    crypto_backend: CryptoBackendName = "xmlsec",
) -> bytes:
    """The SP's EntityDescriptor, signed by the active pair with `crypto_backend`:
    AuthnRequestsSigned and WantAssertionsSigned true, a signing and an encryption KeyDescriptor
    per key pair (two during a rollover), the ACS (HTTP-POST), the SLO endpoints, and each
    requested attribute as a RequestedAttribute with NameFormat uri (Suomi.fi releases only
    those), named and described by `sp_metadata`. Blocking: make it at start-up or in a
    thread."""
    binary = xmlsec_binary or shutil.which("xmlsec1") or ""
    sp = ServiceProvider(entity_id, keys, binary, crypto_backend)
    settings = sp.settings(
        acs_url=acs_url,
        slo_url=slo_url,
        optional_attributes=attribute_names(requested_attributes),
    )
    settings["name"] = service_name
    if valid_hours is not None:
        settings["valid_for"] = valid_hours
    if organisation is not None:
        settings["organization"] = _organization(organisation)
    if contacts:
        settings["contact_person"] = [_contact(c) for c in contacts]
    if entity_attributes:
        settings["entity_attributes"] = [_entity_attribute(a) for a in entity_attributes]
    config = sp.config(settings)
    descriptor = entity_descriptor(config)
    describe_service(descriptor, requested_attributes, service_names)
    _advertise_only_strong_algorithms(descriptor)
    _, xml = sign_entity_descriptor(
        descriptor, None, sp.security(config), sign_alg=SIGN_ALG, digest_alg=DIGEST_ALG
    )
    text = xml if isinstance(xml, str) else xml.decode("utf-8")
    return text.encode("utf-8")


def _advertise_only_strong_algorithms(descriptor: Any) -> None:
    """pysaml2 lists every algorithm xmlsec1 knows (MD5 and SHA-1 among them) in the metadata's
    algsupport extension; an IdP may pick any of them. Advertise only what the broker accepts."""
    extensions = descriptor.extensions
    if extensions is None:
        extensions = descriptor.extensions = md.Extensions()
    extensions.extension_elements = [
        element
        for element in extensions.extension_elements
        if getattr(element, "namespace", None) != algsupport.NAMESPACE
    ]
    extensions.add_extension_element(algsupport.DigestMethod(algorithm=DIGEST_ALG))
    extensions.add_extension_element(algsupport.SigningMethod(algorithm=SIGN_ALG))


def _organization(organisation: Organisation) -> dict[str, Any]:
    display = organisation.display_names or organisation.names
    return {
        "name": [(text, lang) for lang, text in organisation.names.items()],
        "display_name": [(text, lang) for lang, text in display.items()],
        "url": [(url, lang) for lang, url in organisation.urls.items()],
    }


def _contact(contact: Contact) -> dict[str, Any]:
    found = {
        "contact_type": contact.contact_type,
        "email_address": [contact.email],
        "given_name": contact.given_name,
        "sur_name": contact.sur_name,
        "company": contact.company,
    }
    return {key: value for key, value in found.items() if value is not None}


def _entity_attribute(attribute: EntityAttribute) -> dict[str, Any]:
    found = {
        "name": attribute.name,
        "format": NAME_FORMAT_URI,
        "friendly_name": attribute.friendly_name,
        "values": list(attribute.values),
    }
    return {key: value for key, value in found.items() if value is not None}
