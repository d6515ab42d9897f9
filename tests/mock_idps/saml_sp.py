"""The service-provider side of the mock SAML IdPs' tests: pysaml2's `Saml2Client` configured as
the broker would be (signed AuthnRequests, RSA-SHA256, an encryption key), and readers for the
pages the mocks send to a browser."""

from __future__ import annotations

import html
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

with warnings.catch_warnings():  # pysaml2 7.5 imports cryptography's CFB mode from its old place
    warnings.filterwarnings("ignore", "CFB has been moved")
    from saml2 import BINDING_HTTP_POST
    from saml2.config import SPConfig
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

    from mock_idps.saml_common.keys import KeyPair

SP_ENTITY_ID = "http://127.0.0.1:9/sp"
ACS_URL = "http://127.0.0.1:9/acs"  # read from the form, never posted to


@dataclass
class Clock:
    """Real time plus an offset the test can move (the IdP's clock)."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def sp_settings(keys: KeyPair, idp_metadata: Sequence[str] = (), **sp: Any) -> dict[str, Any]:
    """pysaml2 SP settings; `sp` adds to or overrides the `service.sp` section."""
    return {
        "entityid": SP_ENTITY_ID,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(ACS_URL, BINDING_HTTP_POST)]},
                "authn_requests_signed": True,
                "want_response_signed": True,
                "want_assertions_signed": True,
                "allow_unsolicited": False,
                **sp,
            }
        },
        "key_file": str(keys.key_file),
        "cert_file": str(keys.cert_file),
        "encryption_keypairs": [{"key_file": str(keys.key_file), "cert_file": str(keys.cert_file)}],
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "metadata": {"inline": list(idp_metadata)} if idp_metadata else {},
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "allow_unknown_attributes": True,
        "accepted_time_diff": 5,
    }


def sp_config(keys: KeyPair, idp_metadata: Sequence[str] = (), **sp: Any) -> SPConfig:
    config = SPConfig()
    config.load(sp_settings(keys, idp_metadata, **sp))
    return config


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} in the page"
    return html.unescape(match.group(1))


def form_action(page: str) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', page)
    assert match, "no form in the page"
    return html.unescape(match[1])


def posted_response(page: httpx.Response) -> tuple[str, str, str]:
    """(ACS URL, SAMLResponse, RelayState) from the auto-submitting form."""
    assert page.status_code == 200, page.text
    action = re.search(r'<form id="saml-post" method="post" action="([^"]+)"', page.text)
    assert action, page.text
    return (
        html.unescape(action[1]),
        hidden(page.text, "SAMLResponse"),
        hidden(page.text, "RelayState"),
    )
