"""The broker as one SAML 2.0 service provider: its key pair, its pysaml2 settings, its metadata.

    ServiceProviderKeys   an RSA 3072 key and a self-signed certificate, made on first start into
                          the key directory (0700; key 0600), loaded afterwards. One pair signs the
                          AuthnRequests and decrypts the assertions (both KeyDescriptors name it).
    ServiceProvider       entity id + keys + xmlsec1: builds the pysaml2 `SPConfig` in code
    MetadataCache         one IdP's metadata (URL, fetched with httpx, or file) and the pysaml2
                          `Saml2Client` built on it, refreshed by the injected clock
    sp_metadata_xml       the SP's EntityDescriptor, enveloped-signed (RSA-SHA256, SHA-256), for
                          the IdP operators (Suomi.fi registers it; the mock reads it)

pysaml2 signs with RSA-SHA1 unless told otherwise, so the algorithms go into every config and
every call. pysaml2 and xmlsec1 read keys from files, which is why the pair lives on disk. Only
`broker/upstream/saml*.py` import `saml2`. Everything here blocks (RSA generation, xmlsec1):
call it at start-up or in a thread.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import shutil
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from broker.clock import Clock
from broker.errors import ConfigError, UpstreamUnavailableError
from broker.secret_files import directory_lock, write_atomically
from broker.upstream.registry import IdP, RequestedAttribute
from broker.upstream.saml_sp_metadata import attribute_names, describe_service

# pysaml2 7.5 imports cryptography's CFB mode from its old place; cryptography warns on import
# (and the project's pytest configuration turns warnings into errors).
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "CFB has been moved")
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, md
    from saml2.client import Saml2Client
    from saml2.config import SPConfig
    from saml2.extension import algsupport
    from saml2.metadata import entity_descriptor, sign_entity_descriptor
    from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_TRANSIENT
    from saml2.sigver import security_context
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

__all__ = [
    "DIGEST_ALG",
    "SIGN_ALG",
    "Contact",
    "IdPClient",
    "MetadataCache",
    "Organisation",
    "ServiceProvider",
    "ServiceProviderKeys",
    "sp_metadata_xml",
]

SIGN_ALG: Final = SIG_RSA_SHA256
DIGEST_ALG: Final = DIGEST_SHA256
RSA_KEY_SIZE: Final = 3072
KEY_FILE: Final = "saml-sp.key"
CERT_FILE: Final = "saml-sp.crt"
_LOCK_NAME: Final = ".saml-sp.lock"
_FILE_MODE: Final = 0o600
_VALIDITY: Final = datetime.timedelta(days=3650)
_RETRY_SECONDS: Final = 60.0
_TIMEOUT: Final = httpx.Timeout(10.0)

log = logging.getLogger("broker.upstream.saml")


# -- keys ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceProviderKeys:
    """Paths of the SP's PEM private key (0600) and its PEM self-signed certificate."""

    key_file: Path
    cert_file: Path

    @classmethod
    def load_or_create(
        cls, directory: Path, *, common_name: str = "sote-broker SAML SP"
    ) -> ServiceProviderKeys:
        """The pair in `directory`, made there first if missing. Several workers starting at once
        make one pair: the directory is locked while it is read or written."""
        directory = Path(directory)
        keys = cls(directory / KEY_FILE, directory / CERT_FILE)
        with directory_lock(directory, _LOCK_NAME):
            if not keys.key_file.exists():
                key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
                write_atomically(keys.key_file, _key_pem(key), _FILE_MODE)
                keys.cert_file.unlink(missing_ok=True)  # a stale one cannot match the new key
            if not keys.cert_file.exists():  # a crash after the key was written, or the above
                cert = _self_signed(keys.private_key(), common_name)
                write_atomically(
                    keys.cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644
                )
            keys.check()
        return keys

    def private_key(self) -> rsa.RSAPrivateKey:
        try:
            key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"{self.key_file}: unreadable SAML SP key ({exc})") from exc
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
            raise ConfigError(f"{self.key_file}: the SAML SP key must be RSA, 2048 bits or more")
        return key

    def certificate(self) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.cert_file}: unreadable SAML SP certificate ({exc})") from exc

    def check(self) -> None:
        """ConfigError unless the certificate is the private key's."""
        public = self.private_key().public_key().public_numbers()
        if self.certificate().public_key().public_numbers() != public:  # type: ignore[union-attr]
            raise ConfigError(f"{self.cert_file}: certificate is not for {self.key_file.name}")

    def cert_base64(self) -> str:
        """The certificate body without PEM armour, as in ds:X509Certificate."""
        lines = self.cert_file.read_text(encoding="ascii").strip().splitlines()
        return "".join(line for line in lines if not line.startswith("-----"))


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _self_signed(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    """SAML trusts the certificate in the metadata as it is: no CA is needed (SAML2 Metadata
    Interoperability profile); ten years, since rotation goes through the IdP operator."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .sign(key, hashes.SHA256())
    )


# -- the service provider ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceProvider:
    """The broker's SAML identity: one entity id and key pair for every SAML IdP."""

    entity_id: str
    keys: ServiceProviderKeys
    xmlsec_binary: str = field(default_factory=lambda: shutil.which("xmlsec1") or "")

    @classmethod
    def load(cls, entity_id: str, key_directory: Path) -> ServiceProvider:
        """At start-up: the keys (made on first start) and xmlsec1, or a ConfigError."""
        if not shutil.which("xmlsec1"):
            raise ConfigError("xmlsec1 is not installed; SAML needs it (apt-get install xmlsec1)")
        return cls(entity_id, ServiceProviderKeys.load_or_create(key_directory))

    def settings(
        self,
        *,
        acs_url: str,
        slo_url: str | None = None,
        idp_metadata: Sequence[str] = (),
        **sp: Any,
    ) -> dict[str, Any]:
        """pysaml2 settings; `sp` adds to or overrides the `service.sp` section."""
        if not self.xmlsec_binary:
            raise ConfigError("xmlsec1 is not installed; SAML needs it (apt-get install xmlsec1)")
        endpoints: dict[str, Any] = {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]}
        if slo_url:  # the broker's SLO endpoint takes HTTP-Redirect only
            endpoints["single_logout_service"] = [(slo_url, BINDING_HTTP_REDIRECT)]
        pair = {"key_file": str(self.keys.key_file), "cert_file": str(self.keys.cert_file)}
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
            **pair,
            "encryption_keypairs": [pair],
            "xmlsec_binary": self.xmlsec_binary,
            "metadata": {"inline": list(idp_metadata)} if idp_metadata else {},
            "signing_algorithm": SIGN_ALG,
            "digest_algorithm": DIGEST_ALG,
            "only_use_keys_in_metadata": True,
            "allow_unknown_attributes": True,
            "delete_tmpfiles": True,
        }

    def config(self, settings: Mapping[str, Any]) -> Any:
        """A loaded pysaml2 `SPConfig` (blocking: parses the inline metadata)."""
        config = SPConfig()
        config.load(dict(settings))
        return config


# -- metadata ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Organisation:
    """md:Organization; each mapping is language code → text (fi, sv, en)."""

    names: Mapping[str, str]
    urls: Mapping[str, str]
    display_names: Mapping[str, str] | None = None


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
) -> bytes:
    """The SP's EntityDescriptor, signed: AuthnRequestsSigned and WantAssertionsSigned true, a
    signing and an encryption KeyDescriptor (the same certificate), the ACS (HTTP-POST), the SLO
    endpoints, and each requested attribute as a RequestedAttribute with NameFormat uri
    (Suomi.fi releases only those), named and described by `saml_sp_metadata`. Blocking
    (xmlsec1 signs): make it once at start-up."""
    sp = ServiceProvider(entity_id, keys, xmlsec_binary or shutil.which("xmlsec1") or "")
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
    config = sp.config(settings)
    descriptor = entity_descriptor(config)
    describe_service(descriptor, requested_attributes, service_names)
    _advertise_only_strong_algorithms(descriptor)
    _, xml = sign_entity_descriptor(
        descriptor, None, security_context(config), sign_alg=SIGN_ALG, digest_alg=DIGEST_ALG
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


# -- the IdP's metadata and the pysaml2 client ---------------------------------------------------


@dataclass(frozen=True)
class IdPClient:
    """A `saml2.client.Saml2Client` that knows one IdP's metadata, and that IdP's entity id."""

    client: Any
    entity_id: str


class MetadataCache:
    """The IdP's metadata and the client built on it, kept `metadata_refresh_seconds` of the
    injected clock. A failed refresh keeps the previous client serving and retries a minute
    later; with no previous client it raises UpstreamUnavailableError.

    The metadata's own signature is not checked: it comes from the operator over HTTPS, or from
    a file the deployment put there."""

    def __init__(
        self,
        idp: IdP,
        sp: ServiceProvider,
        clock: Clock,
        *,
        acs_url: str,
        clock_skew: int,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._idp = idp
        self._saml = idp.saml_settings
        self._sp = sp
        self._clock = clock
        self._acs_url = acs_url
        self._skew = clock_skew
        self._http = http
        self._value: IdPClient | None = None
        self._next_load = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> IdPClient:
        if self._value is not None and self._clock.now() < self._next_load:
            return self._value
        async with self._lock:  # one load at a time; the others wait and reuse it
            if self._value is not None and self._clock.now() < self._next_load:
                return self._value
            try:
                self._value = await self._load()
            except UpstreamUnavailableError as exc:
                if self._value is None:
                    raise
                log.warning(
                    "idp %s: metadata refresh failed (%s); keeping the old", self._idp.id, exc
                )
                self._next_load = self._clock.now() + min(
                    _RETRY_SECONDS, self._saml.metadata_refresh_seconds
                )
                return self._value
            self._next_load = self._clock.now() + self._saml.metadata_refresh_seconds
            return self._value

    async def _load(self) -> IdPClient:
        xml = await self._metadata_text()
        client = await asyncio.to_thread(self._build, xml)
        log.info("idp %s: SAML metadata loaded", self._idp.id)
        return client

    async def _metadata_text(self) -> str:
        idp, url, path = self._idp.id, self._saml.metadata_url, self._saml.metadata_file
        if path is not None:
            try:
                return await asyncio.to_thread(path.read_text, encoding="utf-8")
            except OSError as exc:
                raise UpstreamUnavailableError(f"{idp}: metadata file: {exc.strerror}") from exc
        if url is None:
            raise UpstreamUnavailableError(f"{idp}: no metadata source")
        try:
            if self._http is not None:
                response = await self._http.get(url, timeout=_TIMEOUT)
            else:
                async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
                    response = await client.get(url)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailableError(f"{idp}: metadata: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise UpstreamUnavailableError(f"{idp}: metadata: HTTP {response.status_code}")
        return response.text

    def _build(self, xml: str) -> IdPClient:
        """Blocking: parses the metadata."""
        idp = self._idp.id
        settings = self._sp.settings(
            acs_url=self._acs_url,
            idp_metadata=[xml],
            want_response_signed=self._saml.want_response_signed,
            want_assertions_signed=self._saml.want_assertions_signed,
            allow_unsolicited=self._saml.allow_unsolicited,
        )
        settings["accepted_time_diff"] = self._skew
        try:
            config = self._sp.config(settings)
            client = Saml2Client(config=config)
            entity_id = self._entity_id(config.metadata)
        except (UpstreamUnavailableError, ConfigError):
            raise
        except Exception as exc:  # pysaml2 raises many kinds for bad metadata
            raise UpstreamUnavailableError(
                f"{idp}: metadata unusable: {type(exc).__name__}"
            ) from exc
        client.users = _NoPopulation()
        return IdPClient(client, entity_id)

    def _entity_id(self, metadata: Any) -> str:
        """The configured IdP, or the only one, with a signing key and a HTTP-Redirect SSO."""
        idp, wanted = self._idp.id, self._saml.entity_id
        found = list(metadata.identity_providers())
        if wanted is not None and wanted not in found:
            raise UpstreamUnavailableError(f"{idp}: metadata does not describe {wanted}")
        if wanted is None and len(found) != 1:
            raise UpstreamUnavailableError(f"{idp}: metadata has {len(found)} IdPs; set entity_id")
        entity_id = str(wanted or found[0])
        if not metadata.single_sign_on_service(entity_id, BINDING_HTTP_REDIRECT):
            raise UpstreamUnavailableError(f"{idp}: metadata has no HTTP-Redirect SSO service")
        if not metadata.certs(entity_id, "idpsso", "signing"):
            raise UpstreamUnavailableError(f"{idp}: metadata has no signing certificate")
        return entity_id


class _NoPopulation:
    """pysaml2 keeps every person whose assertion came unencrypted in an in-memory cache
    (`Saml2Client.users`); the broker keeps nothing of the kind in process memory."""

    def add_information_about_person(self, session_info: Any) -> None:
        return None
