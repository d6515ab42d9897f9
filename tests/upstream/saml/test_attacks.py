"""Attacks on the SAML connector, each a real Response signed and encrypted with test keys by the
forge (`saml_forge.py`, `saml_attacks.py`). Every attack is refused with UpstreamResponseError for
its own reason (the broker's detail, and pysaml2's where pysaml2 named the check) and nothing
reaches the replay cache. A genuine answer of the same shape is accepted for each IdP profile
(conftest.py), so each refusal is the attack's doing. pysaml2 checks the time window with the
system clock, so the forged times are relative to it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from broker.errors import UpstreamResponseError
from tests.upstream.conftest import (
    ACS_URL,
    ELSEWHERE,
    IDP_ENTITY_ID,
    Connectors,
    begin,
    posted,
)
from tests.upstream.saml import saml_attacks as attack
from tests.upstream.saml.replays import Replays
from tests.upstream.saml.saml_forge import TESSA, Build, Forge, new_id

# pysaml2 leaves the temporary files it hands to xmlsec1 open when a signature check fails; the
# garbage collector then reports them (collected in `_collect_leaks`, inside the test).
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <_io.FileIO name='/tmp/tmp"
    r":pytest.PytestUnraisableExceptionWarning"
)

GENUINE: dict[str, Build] = {
    "suomifi": attack.genuine,
    "assertion_signed": attack.only_assertion_signed,
    "response_signed": attack.only_response_signed,
    "in_clear": attack.in_clear,
    "unsolicited_allowed": attack.genuine,
}


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
