"""The pysaml2 side: one IdP entity's `saml2.server.Server`, the SPs it trusts, its signed metadata
(by the metadata signing key, listing the published signing certificates).

pysaml2 signs with RSA-SHA1 unless told otherwise, so the algorithms are set in the config *and*
passed at every call. SP metadata comes from files or URLs (fetched once, with httpx); the Server is
rebuilt when it is reloaded. Every call into pysaml2 runs xmlsec1 as a subprocess: callers in
async code run these functions in a thread.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, class_name
from saml2.config import IdPConfig
from saml2.metadata import do_key_descriptor, entity_descriptor
from saml2.s_utils import sid
from saml2.saml import NAMEID_FORMAT_TRANSIENT
from saml2.server import Server
from saml2.sigver import pre_signature_part
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from mock_idps.saml_common.keys import KeyPair, KeyStore

SIGN_ALG = SIG_RSA_SHA256
DIGEST_ALG = DIGEST_SHA256
METADATA_VALID_SECONDS = 24 * 3600
"""How long the metadata a mock serves says it is valid (validUntil), from when it is served."""


class MetadataError(ValueError):
    """SP metadata could not be read, fetched or parsed."""


def fetch_metadata(sources: Sequence[str | Path]) -> list[str]:
    """The XML of each SP metadata source: a file path, or an http(s) URL fetched now."""
    return [_fetch_one(source) for source in sources]


def _fetch_one(source: str | Path) -> str:
    text = str(source)
    try:
        if text.startswith(("http://", "https://")):
            response = httpx.get(text, timeout=10)
            response.raise_for_status()
            return response.text
        return Path(source).read_text(encoding="utf-8")
    except (OSError, httpx.HTTPError) as exc:
        raise MetadataError(f"SP metadata {text}: {exc}") from exc


@dataclass(frozen=True)
class Entity:
    """One IdP entity: its id, the base URL of its endpoints (`<base>/sso`, `<base>/slo`), the
    NameID formats it issues (first: its default) and its display name."""

    entity_id: str
    endpoint_base: str
    name: str
    name_id_formats: tuple[str, ...] = (NAMEID_FORMAT_TRANSIENT,)
    single_logout: bool = True


def idp_config(entity: Entity, signing: KeyPair, sp_metadata: Sequence[str]) -> IdPConfig:
    xmlsec = shutil.which("xmlsec1")
    if xmlsec is None:
        raise MetadataError("xmlsec1 is not installed (apt-get install xmlsec1)")
    base = entity.endpoint_base
    endpoints = {"single_sign_on_service": _both_bindings(f"{base}/sso")}
    if entity.single_logout:
        endpoints["single_logout_service"] = _both_bindings(f"{base}/slo")
    settings: dict[str, Any] = {
        "entityid": entity.entity_id,
        "name": entity.name,
        "service": {
            "idp": {
                "endpoints": endpoints,
                "name_id_format": list(entity.name_id_formats),
                "want_authn_requests_signed": True,
            }
        },
        "key_file": str(signing.key_file),
        "cert_file": str(signing.cert_file),
        "xmlsec_binary": xmlsec,
        "signing_algorithm": SIGN_ALG,
        "digest_algorithm": DIGEST_ALG,
        "metadata": {"inline": list(sp_metadata)} if sp_metadata else {},
        "accepted_time_diff": 60,
    }
    config = IdPConfig()
    config.load(settings)
    return config


def _both_bindings(url: str) -> list[tuple[str, str]]:
    return [(url, BINDING_HTTP_REDIRECT), (url, BINDING_HTTP_POST)]


def build_server(entity: Entity, signing: KeyPair, sp_metadata: Sequence[str]) -> Server:
    try:
        return Server(config=idp_config(entity, signing, sp_metadata))
    except MetadataError:
        raise
    except Exception as exc:  # pysaml2 raises many kinds for bad metadata
        raise MetadataError(f"SP metadata not usable: {exc}") from exc


def signed_idp_metadata(server: Server, keys: KeyStore, valid_until: float | None = None) -> str:
    """The IdP's EntityDescriptor: a signing KeyDescriptor for each certificate `keys` publishes
    (two during a rollover), `validUntil` when given (epoch), enveloped-signed (RSA-SHA256, the
    reference to the root's ID) by the metadata signing key, not by the key that signs messages:
    an SP configures the metadata signer's certificate, and learns the rest from the metadata."""
    descriptor = entity_descriptor(server.config)
    roles = descriptor.idpsso_descriptor
    for role in roles if isinstance(roles, list) else [roles]:
        kept = [k for k in role.key_descriptor if k.use != "signing"]
        role.key_descriptor = [
            *do_key_descriptor([pair.cert_base64() for pair in keys.published], use="signing"),
            *kept,
        ]
    if valid_until is not None:
        descriptor.valid_until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(valid_until))
    signer, ident = keys.metadata_signing, sid()
    descriptor.id = ident
    descriptor.signature = pre_signature_part(
        ident, signer.cert_base64(), 1, sign_alg=SIGN_ALG, digest_alg=DIGEST_ALG
    )
    xml = server.sec.sign_statement(
        str(descriptor), class_name(descriptor), key_file=str(signer.key_file), node_id=ident
    )
    return str(xml)
