"""Fixtures for the SAML attack tests: the forge (a test-side IdP with its own keys), the IdP's
metadata as a file, and connectors made per IdP profile. The SP runs once per crypto backend
(`xmlsec` in process, the `xmlsec1` program), so every test here proves both.

IdP profiles: `suomifi` signs the Response and the assertion and encrypts (Suomi.fi's file);
`assertion_signed` (the defaults) and `response_signed` sign one of the two, so that wrapping
reaches that signature's check; `in_clear` is an organisation IdP that cannot encrypt;
`legacy_encryption` may also use AES-CBC and RSA 1.5 (the assertion's signature required).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from broker.clock import FrozenClock
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.registry import IdP, Names, SAMLUpstream
from broker.upstream.saml.connector import RememberAssertion, SAMLConnector
from broker.upstream.saml.crypto import CRYPTO_BACKENDS
from broker.upstream.saml.sp import ServiceProvider
from tests.upstream.saml.replays import Replays
from tests.upstream.saml.saml_forge import HETU, Forge, Statement, encode

SP_ENTITY_ID = "http://127.0.0.1:9/saml/metadata"
ACS_URL = "http://127.0.0.1:9/upstream/saml/acs"  # never posted to
IDP_ENTITY_ID = "https://tunnistus.test/idp"
ELSEWHERE = "https://elsewhere.test"
RELAY_STATE = "opaque-handle"

PROFILES: dict[str, dict[str, Any]] = {
    "suomifi": {"want_response_signed": True},
    "assertion_signed": {},
    "response_signed": {"want_response_signed": True, "want_assertions_signed": False},
    "in_clear": {"want_assertions_encrypted": False},
    "unsolicited_allowed": {"want_response_signed": True, "allow_unsolicited": True},
    "legacy_encryption": {
        "encryption_algorithms": ("aes256-gcm", "aes256-cbc", "rsa-oaep-mgf1p", "rsa-1_5")
    },
}


@pytest.fixture(autouse=True)
def _collect_leaks() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture(scope="session", params=CRYPTO_BACKENDS)
def sp(saml_sp_keys: Path, request: pytest.FixtureRequest) -> ServiceProvider:
    return ServiceProvider.load(SP_ENTITY_ID, saml_sp_keys, request.param)


@pytest.fixture(scope="session")
def forge(sp: ServiceProvider, tmp_path_factory: pytest.TempPathFactory) -> Forge:
    keys = tmp_path_factory.mktemp("forged-idp")
    return Forge.with_keys_in(keys, sp.keys.cert_file)


@pytest.fixture(scope="module")
def replays() -> Replays:
    return Replays()


@dataclass
class Connectors:
    """One connector per IdP profile and clock skew, made when first asked for: a pysaml2 client
    takes a second to build."""

    sp: ServiceProvider
    metadata: Path
    replays: Replays

    def __post_init__(self) -> None:
        self.get = cache(self._make)

    def _make(self, profile: str, skew: int = 60, subject: str | None = HETU) -> SAMLConnector:
        return make_connector(self.sp, self.metadata, self.replays, profile, skew, subject)


def make_connector(
    sp: ServiceProvider,
    metadata: Path,
    remember: RememberAssertion,
    profile: str,
    skew: int = 60,
    subject: str | None = HETU,
    *,
    clock: FrozenClock | None = None,
    idp: dict[str, Any] | None = None,
    **saml: Any,
) -> SAMLConnector:
    """The Suomi.fi connector of the forged IdP's metadata; `idp` and `saml` change its IdP and
    SAML settings from the profile's."""
    settings = SAMLUpstream(
        metadata_file=metadata, entity_id=IDP_ENTITY_ID, **{**PROFILES[profile], **saml}
    )
    config = IdP(
        id="suomifi",
        names=Names(fi="Suomi.fi-tunnistus", sv="Suomi.fi-identifikation", en="Suomi.fi"),
        route="personal",
        protocol="saml",
        saml=settings,
        subject=subject,
        **(idp or {}),
    )
    return SAMLConnector(
        config,
        sp,
        clock or FrozenClock(),
        acs_url=ACS_URL,
        remember_assertion=remember,
        clock_skew=skew,
        require_encrypted_assertions=settings.want_assertions_encrypted,
    )


@pytest.fixture(scope="module")
def metadata(forge: Forge, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("idp-metadata") / "idp.xml"
    path.write_text(forge.metadata(IDP_ENTITY_ID, "https://tunnistus.test/sso"))
    return path


@pytest.fixture(scope="module")
def connectors(sp: ServiceProvider, metadata: Path, replays: Replays) -> Connectors:
    return Connectors(sp, metadata, replays)


async def begin(connector: SAMLConnector) -> tuple[dict[str, Any], Statement]:
    """A login started at `connector`: what it saved, and what an honest IdP would answer."""
    _, saved, statement = await begin_with_url(connector)
    return saved, statement


async def begin_with_url(connector: SAMLConnector) -> tuple[str, dict[str, Any], Statement]:
    """`begin`, and the AuthnRequest's redirect URL (for its signature)."""
    redirect = await connector.start(UpstreamLogin(redirect_uri=ACS_URL, relay_state=RELAY_STATE))
    saved = json.loads(json.dumps(redirect.saved))  # as the store gives it back
    statement = Statement(
        issuer=IDP_ENTITY_ID,
        audience=SP_ENTITY_ID,
        destination=ACS_URL,
        in_response_to=saved["request_id"],
    )
    return redirect.url, saved, statement


def posted(xml: str) -> dict[str, str]:
    return {"SAMLResponse": encode(xml), "RelayState": RELAY_STATE}
