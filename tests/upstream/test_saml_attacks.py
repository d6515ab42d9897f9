"""Attacks on the SAML connector, each a real Response signed and encrypted with test keys by the
forge (`saml_forge.py`, `saml_attacks.py`). Every attack is refused with UpstreamResponseError for
its own reason (the broker's detail, and pysaml2's where pysaml2 named the check) and nothing
reaches the replay cache. A genuine answer of the same shape is accepted for each IdP profile, so
each refusal is the attack's doing.

IdP profiles: `suomifi` signs the Response and the assertion and encrypts (Suomi.fi's file);
`assertion_signed` (the defaults) and `response_signed` sign one of the two, so that wrapping
reaches that signature's check; `in_clear` is an organisation IdP that cannot encrypt.
pysaml2 checks the time window with the system clock, so the forged times are relative to it.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from broker.clock import FrozenClock
from broker.errors import UpstreamResponseError
from broker.store.sqlite import SQLiteStore
from broker.upstream.registry import IdP, Names, SAMLUpstream
from broker.upstream.saml import RememberAssertion, SAMLConnector
from broker.upstream.saml_sp import ServiceProvider
from mock_idps.suomifi_idp.keys import load_or_create_pair
from tests.upstream import saml_attacks as attack
from tests.upstream.saml_attacks import VICTIM
from tests.upstream.saml_forge import HETU, TESSA, Build, Forge, Statement, encode, new_id
from tests.upstream.test_saml_connector import Replays

# pysaml2 leaves the temporary files it hands to xmlsec1 open when a signature check fails; the
# garbage collector then reports them (collected in `_collect_leaks`, inside the test).
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <_io.FileIO name='/tmp/tmp"
    r":pytest.PytestUnraisableExceptionWarning"
)

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
}
GENUINE: dict[str, Build] = {
    "suomifi": attack.genuine,
    "assertion_signed": attack.only_assertion_signed,
    "response_signed": attack.only_response_signed,
    "in_clear": attack.in_clear,
    "unsolicited_allowed": attack.genuine,
}


@pytest.fixture(autouse=True)
def _collect_leaks() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture(scope="session")
def sp(saml_sp_keys: Path) -> ServiceProvider:
    return ServiceProvider.load(SP_ENTITY_ID, saml_sp_keys)


@pytest.fixture(scope="session")
def forge(sp: ServiceProvider, tmp_path_factory: pytest.TempPathFactory) -> Forge:
    keys = tmp_path_factory.mktemp("forged-idp")
    return Forge(
        load_or_create_pair(keys, "forged-idp-TEST-ONLY"),
        sp.keys.cert_file,
        impostor=load_or_create_pair(keys, "impostor-TEST-ONLY"),
    )


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
) -> SAMLConnector:
    saml = SAMLUpstream(metadata_file=metadata, entity_id=IDP_ENTITY_ID, **PROFILES[profile])
    idp = IdP(
        id="suomifi",
        names=Names(fi="Suomi.fi-tunnistus", sv="Suomi.fi-identifikation", en="Suomi.fi"),
        route="personal",
        protocol="saml",
        saml=saml,
        subject=subject,
    )
    return SAMLConnector(
        idp,
        sp,
        FrozenClock(),
        acs_url=ACS_URL,
        remember_assertion=remember,
        clock_skew=skew,
        require_encrypted_assertions=saml.want_assertions_encrypted,
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
    redirect = await connector.start(redirect_uri=ACS_URL, relay_state=RELAY_STATE)
    saved = json.loads(json.dumps(redirect.saved))  # as the store gives it back
    statement = Statement(
        issuer=IDP_ENTITY_ID,
        audience=SP_ENTITY_ID,
        destination=ACS_URL,
        in_response_to=saved["request_id"],
    )
    return saved, statement


def posted(xml: str) -> dict[str, str]:
    return {"SAMLResponse": encode(xml), "RelayState": RELAY_STATE}


# -- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    build: Build
    profile: str
    detail: str  # in the broker's error detail
    cause: str = ""  # in pysaml2's exception, where it names the check


def _spoil(**changes: Any) -> Build:
    return attack.spoiled(lambda s: replace(s, **changes))


def _shifted(start: float, **ends: float) -> Build:
    """Issued `start` seconds from now; each NotOnOrAfter / NotBefore given relative to now."""
    return attack.spoiled(
        lambda s: replace(s, now=s.now + start, **{k: s.now + v for k, v in ends.items()})
    )


_MISSING_RESPONSE_SIGNATURE = "Signature missing for response"
_MISSING_ASSERTION_SIGNATURE = "Signature missing for assertion"
_BAD_SIGNATURE = "Failed to verify signature"
_XMLDSIG_PROFILE = "constraints on xmldsig"  # saml-core 5.4: a lone enveloped reference, no Object
_SCHEMA = "Invalid document format"
_DOCTYPE = "with a DOCTYPE"

ATTACKS: dict[str, Refused] = {
    # A signature is required, where the IdP's file says, by the key in the IdP's metadata.
    "unsigned": Refused(attack.unsigned, "suomifi", "SignatureError", _MISSING_RESPONSE_SIGNATURE),
    "unsigned/assertion_signed": Refused(
        attack.unsigned, "assertion_signed", "SignatureError", _MISSING_ASSERTION_SIGNATURE
    ),
    "unsigned/response_signed": Refused(
        attack.unsigned, "response_signed", "SignatureError", _MISSING_RESPONSE_SIGNATURE
    ),
    "both-signed-by-a-key-not-in-metadata": Refused(
        attack.signed_by_impostor(assertion=True, response=True),
        "suomifi",
        "SignatureError",
        _BAD_SIGNATURE,
    ),
    "assertion-signed-by-a-key-not-in-metadata": Refused(
        attack.signed_by_impostor(assertion=True, response=False),
        "suomifi",
        "SignatureError",
        _BAD_SIGNATURE,
    ),
    "response-signed-by-a-key-not-in-metadata": Refused(
        attack.signed_by_impostor(assertion=False, response=True),
        "suomifi",
        "SignatureError",
        _BAD_SIGNATURE,
    ),
    "only-response-signed/assertion_signed": Refused(
        attack.only_response_signed,
        "assertion_signed",
        "SignatureError",
        _MISSING_ASSERTION_SIGNATURE,
    ),
    "only-response-signed/suomifi": Refused(
        attack.only_response_signed, "suomifi", "SignatureError", _MISSING_ASSERTION_SIGNATURE
    ),
    "only-assertion-signed/response_signed": Refused(
        attack.only_assertion_signed,
        "response_signed",
        "SignatureError",
        _MISSING_RESPONSE_SIGNATURE,
    ),
    "only-assertion-signed/suomifi": Refused(
        attack.only_assertion_signed, "suomifi", "SignatureError", _MISSING_RESPONSE_SIGNATURE
    ),
    # XML signature wrapping: the Response level.
    "xsw1-signed-response-in-signature-object": Refused(
        attack.xsw1_signed_response_in_signature_object,
        "response_signed",
        "SignatureError",
        _SCHEMA,
    ),
    "xsw2-signed-response-before-signature": Refused(
        attack.xsw2_signed_response_before_signature, "response_signed", "SignatureError", _SCHEMA
    ),
    "xsw-signed-response-in-extensions-same-id": Refused(
        attack.xsw_signed_response_in_extensions_same_id,
        "response_signed",
        "SignatureError",
        _SCHEMA,
    ),
    # XML signature wrapping: the assertion level.
    "xsw3-evil-before-signed": Refused(
        attack.xsw3_evil_before_signed,
        "assertion_signed",
        "SignatureError",
        _MISSING_ASSERTION_SIGNATURE,
    ),
    "xsw3-evil-before-signed-each-encrypted": Refused(
        attack.xsw3_evil_before_signed_each_encrypted, "assertion_signed", "2 assertions"
    ),
    "xsw3-evil-before-signed-in-clear": Refused(
        attack.xsw3_evil_before_signed_in_clear, "in_clear", "2 assertions"
    ),
    "xsw4-evil-after-signed": Refused(
        attack.xsw4_evil_after_signed,
        "assertion_signed",
        "SignatureError",
        _MISSING_ASSERTION_SIGNATURE,
    ),
    "xsw4-evil-wraps-signed": Refused(
        attack.xsw4_evil_wraps_signed,
        "assertion_signed",
        "SignatureError",
        _MISSING_ASSERTION_SIGNATURE,
    ),
    "xsw5-evil-carries-signature-unsigned-copy-after": Refused(
        attack.xsw5_evil_carries_signature_unsigned_copy_after,
        "assertion_signed",
        "SignatureError",
        _XMLDSIG_PROFILE,
    ),
    "xsw6-signed-in-evil-signature-object": Refused(
        attack.xsw6_signed_in_evil_signature_object,
        "assertion_signed",
        "SignatureError",
        _XMLDSIG_PROFILE,
    ),
    "xsw7-signed-in-extensions": Refused(
        attack.xsw7_signed_in_extensions,
        "assertion_signed",
        "SignatureError",
        _MISSING_ASSERTION_SIGNATURE,
    ),
    "xsw8-unsigned-copy-in-evil-signature-object": Refused(
        attack.xsw8_unsigned_copy_in_evil_signature_object,
        "assertion_signed",
        "SignatureError",
        _XMLDSIG_PROFILE,
    ),
    "duplicate-id/signed-in-extensions": Refused(
        attack.duplicate_id("extensions"), "assertion_signed", "SignatureError", _BAD_SIGNATURE
    ),
    "duplicate-id/signed-in-extensions-in-clear": Refused(
        attack.duplicate_id("extensions", encrypt=False),
        "in_clear",
        "SignatureError",
        _BAD_SIGNATURE,
    ),
    "duplicate-id/signed-in-status-detail": Refused(
        attack.duplicate_id("status_detail"), "assertion_signed", "SignatureError", _BAD_SIGNATURE
    ),
    "duplicate-id/signed-in-evil-advice": Refused(
        attack.duplicate_id("advice"), "assertion_signed", "SignatureError", _SCHEMA
    ),
    "evil-inside-signed-advice": Refused(
        attack.evil_inside_signed_advice, "assertion_signed", "SignatureError", _BAD_SIGNATURE
    ),
    "evil-swapped-in-under-response-signature": Refused(
        attack.evil_swapped_in_under_response_signature,
        "suomifi",
        "SignatureError",
        _BAD_SIGNATURE,
    ),
    "processing-instruction-in-hetu": Refused(
        attack.split_value(TESSA, 6, "<?evil x?>REST"),
        "assertion_signed",
        "SignatureError",
        _BAD_SIGNATURE,  # exclusive c14n keeps processing instructions
    ),
    # DTDs: external entities, entity expansion, DTD-declared IDs.
    "xxe-file-entity": Refused(
        attack.with_doctype(attack.XXE_FILE, attack.genuine, entity="&leak;"), "suomifi", _DOCTYPE
    ),
    "xxe-declared-not-used": Refused(
        attack.with_doctype(attack.XXE_FILE, attack.genuine), "suomifi", _DOCTYPE
    ),
    "billion-laughs": Refused(
        attack.with_doctype(attack.BILLION_LAUGHS, attack.genuine, entity="&lol9;"),
        "suomifi",
        _DOCTYPE,
    ),
    "external-dtd": Refused(
        attack.with_doctype(attack.external_dtd("http://127.0.0.1:9/x.dtd"), attack.genuine),
        "suomifi",
        _DOCTYPE,
    ),
    "dtd-declared-id": Refused(
        attack.with_doctype(attack.DTD_DECLARED_ID, attack.genuine), "suomifi", _DOCTYPE
    ),
    "entity-for-name-id": Refused(attack.entity_for_name_id, "in_clear", _DOCTYPE),
    # Audience, Destination, Recipient, Issuer.
    "wrong-audience": Refused(
        _spoil(audience=f"{ELSEWHERE}/sp"), "suomifi", "Exception", "AudienceRestrictions"
    ),
    "wrong-destination": Refused(
        _spoil(destination=f"{ELSEWHERE}/acs", recipient=ACS_URL), "suomifi", "no assertion"
    ),
    "empty-destination": Refused(
        _spoil(destination="", recipient=ACS_URL), "suomifi", "Destination is not the ACS URL"
    ),
    "wrong-recipient": Refused(
        _spoil(recipient=f"{ELSEWHERE}/acs"), "suomifi", "no bearer SubjectConfirmation"
    ),
    "wrong-issuer": Refused(_spoil(issuer=f"{ELSEWHERE}/idp"), "suomifi", "MissingKey"),
    # The time window (default skew: 60 s).
    "not-yet-valid": Refused(
        _shifted(600, not_before=600, not_on_or_after=900), "suomifi", "ToEarly"
    ),
    "expired": Refused(_shifted(-600, not_on_or_after=-120), "suomifi", "ResponseLifetimeExceed"),
    "subject-confirmation-expired": Refused(
        _shifted(-600, not_on_or_after=300, confirmation_not_on_or_after=-120),
        "suomifi",
        "ResponseLifetimeExceed",
    ),
    # InResponseTo bound to this login.
    "in-response-to-another-request": Refused(
        _spoil(in_response_to=new_id()), "suomifi", "UnsolicitedResponse"
    ),
    "confirmation-for-another-request": Refused(
        _spoil(confirmation_in_response_to=new_id()), "suomifi", "no bearer SubjectConfirmation"
    ),
    "unsolicited": Refused(_spoil(in_response_to=None), "suomifi", "UnsolicitedResponse"),
    "another-request-where-unsolicited-allowed": Refused(
        _spoil(in_response_to=new_id()), "unsolicited_allowed", "not this login's AuthnRequest"
    ),
}


# -- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", GENUINE)
async def test_a_genuine_answer_is_accepted(
    connectors: Connectors, forge: Forge, profile: str
) -> None:
    connector = connectors.get(profile)
    saved, statement = await begin(connector)
    identity = await connector.finish(posted(GENUINE[profile](forge, statement)), saved)
    assert (identity.subject, identity.issuer) == (TESSA, IDP_ENTITY_ID)


@pytest.mark.parametrize("name", ATTACKS)
async def test_the_attack_is_refused(
    connectors: Connectors, forge: Forge, replays: Replays, name: str
) -> None:
    refused = ATTACKS[name]
    connector = connectors.get(refused.profile)
    saved, statement = await begin(connector)
    attack_xml = refused.build(forge, statement)
    remembered = dict(replays.seen)
    with pytest.raises(UpstreamResponseError) as error:
        await connector.finish(posted(attack_xml), saved)
    assert refused.detail in error.value.detail
    assert refused.cause in str(error.value.__cause__)
    assert replays.seen == remembered


@pytest.mark.parametrize(
    ("skew", "not_before", "not_on_or_after", "accepted"),
    [
        (60, 30, 300, True),  # NotBefore inside the skew
        (60, 90, 300, False),
        (120, 90, 300, True),
        (60, -300, -30, True),  # NotOnOrAfter passed, inside the skew
        (60, -300, -90, False),
        (120, -300, -90, True),
    ],
)
async def test_the_time_window_allows_the_configured_clock_skew(
    connectors: Connectors,
    forge: Forge,
    skew: int,
    not_before: int,
    not_on_or_after: int,
    accepted: bool,
) -> None:
    connector = connectors.get("suomifi", skew)
    saved, s = await begin(connector)
    answer = forge.genuine(
        replace(s, not_before=s.now + not_before, not_on_or_after=s.now + not_on_or_after)
    )
    if accepted:
        assert (await connector.finish(posted(answer), saved)).subject == TESSA
    else:
        with pytest.raises(UpstreamResponseError, match=r"ToEarly|ResponseLifetimeExceed"):
            await connector.finish(posted(answer), saved)


async def test_an_unsolicited_response_is_accepted_only_where_allowed(
    connectors: Connectors, forge: Forge
) -> None:
    for profile, accepted in (("suomifi", False), ("unsolicited_allowed", True)):
        connector = connectors.get(profile)
        saved, statement = await begin(connector)
        answer = posted(forge.genuine(replace(statement, in_response_to=None)))
        if accepted:
            assert (await connector.finish(answer, saved)).subject == TESSA
        else:
            with pytest.raises(UpstreamResponseError, match="UnsolicitedResponse"):
                await connector.finish(answer, saved)


@pytest.mark.parametrize("splitter", ["<!---->REST", "<!-- x -->REST", "<![CDATA[REST]]>"])
@pytest.mark.parametrize("field", ["name_id", "hetu"])
async def test_a_comment_or_cdata_in_a_signed_value_does_not_cut_it_short(
    connectors: Connectors, forge: Forge, field: str, splitter: str
) -> None:
    """CVE-2017-11427: the IdP signed `VICTIM.evil.example` (a value the attacker chose), the
    attacker splits it after VICTIM. The signature still holds (exclusive c14n drops comments),
    and the broker must read the whole value, not the first text node."""
    signed_value = f"{VICTIM}.evil.example"
    connector = connectors.get("assertion_signed", subject=HETU if field == "hetu" else None)
    saved, s = await begin(connector)
    if field == "hetu":
        s = replace(s, attributes={HETU: signed_value})
    else:
        s = replace(s, name_id=signed_value)
    build = attack.split_value(signed_value, len(VICTIM), splitter)
    identity = await connector.finish(posted(build(forge, s)), saved)
    assert identity.subject == signed_value


async def test_a_replayed_assertion_is_refused_by_another_connector_on_the_same_store(
    sp: ServiceProvider, metadata: Path, forge: Forge, tmp_path: Path
) -> None:
    """Two broker processes share the store: each has its own connector and store connection."""
    stores = [SQLiteStore(tmp_path / "broker.db") for _ in range(2)]
    for store in stores:
        await store.open()
    try:
        first, second = (
            make_connector(sp, metadata, store.remember_jti, "suomifi") for store in stores
        )
        saved, statement = await begin(first)
        answer = posted(forge.genuine(statement))
        assert (await first.finish(answer, saved)).subject == TESSA
        with pytest.raises(UpstreamResponseError, match="replayed"):
            await second.finish(answer, saved)
    finally:
        for store in stores:
            await store.close()


async def test_refusals_log_no_identity_code(
    connectors: Connectors, forge: Forge, caplog: pytest.LogCaptureFixture
) -> None:
    """pysaml2 logs a refused assertion whole at ERROR (the decrypted document, identity code
    and all); the connector keeps its logger quiet and names the refusal itself."""
    caplog.set_level(logging.DEBUG, logger="broker")
    caplog.set_level(logging.INFO)
    for name in ("duplicate-id/signed-in-evil-advice", "xsw4-evil-wraps-signed", "unsolicited"):
        refused = ATTACKS[name]
        connector = connectors.get(refused.profile)
        saved, statement = await begin(connector)
        with pytest.raises(UpstreamResponseError):
            await connector.finish(posted(refused.build(forge, statement)), saved)
    assert caplog.records  # the log was captured
    assert TESSA not in caplog.text and VICTIM not in caplog.text
