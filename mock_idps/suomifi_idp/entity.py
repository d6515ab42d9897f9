"""The pysaml2 side: the IdP's `saml2.server.Server`, the SPs it trusts, its signed metadata.

pysaml2 signs with RSA-SHA1 unless told otherwise, so the algorithms are set in the config *and*
passed at every call. SP metadata comes from files or URLs (fetched once, with httpx); the Server is
rebuilt when it is reloaded. Every call into pysaml2 runs xmlsec1 as a subprocess: callers in
async code run these functions in a thread.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor, sign_entity_descriptor
from saml2.saml import NAMEID_FORMAT_TRANSIENT
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from mock_idps.suomifi_idp.keys import KeyPair

SIGN_ALG = SIG_RSA_SHA256
DIGEST_ALG = DIGEST_SHA256


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


def idp_config(base_url: str, signing: KeyPair, sp_metadata: Sequence[str]) -> IdPConfig:
    xmlsec = shutil.which("xmlsec1")
    if xmlsec is None:
        raise MetadataError("xmlsec1 is not installed (apt-get install xmlsec1)")
    settings: dict[str, Any] = {
        "entityid": f"{base_url}/idp",
        "name": "MOCK Suomi.fi e-Identification",
        "service": {
            "idp": {
                "endpoints": {
                    "single_sign_on_service": [
                        (f"{base_url}/sso", BINDING_HTTP_REDIRECT),
                        (f"{base_url}/sso", BINDING_HTTP_POST),
                    ],
                    "single_logout_service": [
                        (f"{base_url}/slo", BINDING_HTTP_REDIRECT),
                        (f"{base_url}/slo", BINDING_HTTP_POST),
                    ],
                },
                "name_id_format": [NAMEID_FORMAT_TRANSIENT],
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


def build_server(base_url: str, signing: KeyPair, sp_metadata: Sequence[str]) -> Server:
    try:
        return Server(config=idp_config(base_url, signing, sp_metadata))
    except MetadataError:
        raise
    except Exception as exc:  # pysaml2 raises many kinds for bad metadata
        raise MetadataError(f"SP metadata not usable: {exc}") from exc


def signed_idp_metadata(server: Server) -> str:
    """The IdP's EntityDescriptor, enveloped-signed with its own key (RSA-SHA256)."""
    descriptor = entity_descriptor(server.config)
    _, xml = sign_entity_descriptor(
        descriptor, None, server.sec, sign_alg=SIGN_ALG, digest_alg=DIGEST_ALG
    )
    return str(xml)
