"""`read_assertion`: what a verified assertion said, read into plain data. The assertions are
pysaml2's objects parsed from XML, as the connector hands them over after its checks; each test
pins what the login then sees (issuer, NameID and SessionIndex for logout, attributes by Name, the
authentication context, until when a replay must be recognised).
"""

from __future__ import annotations

import calendar
import time
from typing import Any

import pytest

from broker.errors import UpstreamResponseError
from broker.store.records import UpstreamSession
from broker.upstream.saml.assertion import VerifiedAssertion, read_assertion, text_of
from broker.upstream.saml.pysaml2 import saml

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
HETU = "urn:oid:1.2.246.21"
LOA3 = "http://ftn.ficora.fi/2017/loa3"
CARD = "urn:oid:1.2.246.517.3002.110.2"
ISSUER = "https://tunnistus.test/idp"
CONFIRMATION = '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
NAME_ID = (
    f'<saml:NameID Format="{TRANSIENT}" NameQualifier="{ISSUER}" SPNameQualifier="sp">'
    " _n1 </saml:NameID>"
)
CONTEXT = (
    f"<saml:AuthnContext><saml:AuthnContextClassRef> {LOA3} </saml:AuthnContextClassRef>"
    f"<saml:AuthenticatingAuthority> {CARD} </saml:AuthenticatingAuthority>"
    "<saml:AuthenticatingAuthority/>"
    "<saml:AuthenticatingAuthority>https://second.test</saml:AuthenticatingAuthority>"
    "</saml:AuthnContext>"
)
ATTRIBUTES = (
    "<saml:AttributeStatement>"
    f'<saml:Attribute Name="{HETU}" FriendlyName="nationalIdentificationNumber">'
    "<saml:AttributeValue/><saml:AttributeValue>010280-952L</saml:AttributeValue>"
    "<saml:AttributeValue>second</saml:AttributeValue></saml:Attribute>"
    '<saml:Attribute Name="urn:oid:2.5.4.42"><saml:AttributeValue>Tessa</saml:AttributeValue>'
    "</saml:Attribute>"
    '<saml:Attribute Name="urn:oid:empty"><saml:AttributeValue/></saml:Attribute>'
    "<saml:Attribute><saml:AttributeValue>nameless</saml:AttributeValue></saml:Attribute>"
    "</saml:AttributeStatement>"
    "<saml:AttributeStatement>"
    '<saml:Attribute Name="urn:oid:2.5.4.42"><saml:AttributeValue>Eve</saml:AttributeValue>'
    "</saml:Attribute>"
    '<saml:Attribute Name="urn:oid:2.5.4.4"><saml:AttributeValue>Testaaja</saml:AttributeValue>'
    "</saml:Attribute>"
    "</saml:AttributeStatement>"
)


def epoch(text: str) -> float:
    return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))


def assertion(
    *,
    id_attribute: str = 'ID="_a1"',
    name_id: str = NAME_ID,
    confirmations: str = CONFIRMATION
    + '<saml:SubjectConfirmationData NotOnOrAfter="2026-12-05T10:05:00Z"/>'
    + "</saml:SubjectConfirmation>",
    conditions: str = '<saml:Conditions NotOnOrAfter="2026-12-05T10:10:00Z"/>',
    statement: str = '<saml:AuthnStatement AuthnInstant="2026-12-05T10:00:00Z"'
    f' SessionIndex="_s1">{CONTEXT}</saml:AuthnStatement>',
    attributes: str = ATTRIBUTES,
) -> Any:
    return saml.assertion_from_string(
        f'<saml:Assertion xmlns:saml="{SAML}" {id_attribute} Version="2.0"'
        f' IssueInstant="2026-12-05T10:00:00Z"><saml:Issuer>{ISSUER}</saml:Issuer>'
        f"<saml:Subject>{name_id}{confirmations}</saml:Subject>{conditions}{statement}"
        f"{attributes}</saml:Assertion>"
    )


def read(parsed: Any, skew: int = 60) -> VerifiedAssertion:
    return read_assertion(parsed, ISSUER, parsed.subject.name_id, "suomifi", skew)


def refusal(parsed: Any) -> str:
    with pytest.raises(UpstreamResponseError) as error:
        read(parsed)
    return str(error.value)


def test_everything_the_login_needs_is_read() -> None:
    assert read(assertion()) == VerifiedAssertion(
        issuer=ISSUER,
        assertion_id="_a1",
        expires_at=epoch("2026-12-05T10:10:00Z") + 60,
        name_id="_n1",
        session=UpstreamSession(
            idp_id="suomifi",
            name_id="_n1",
            name_id_format=TRANSIENT,
            name_qualifier=ISSUER,
            sp_name_qualifier="sp",
            session_index="_s1",
        ),
        attributes={
            HETU: "010280-952L",
            "urn:oid:2.5.4.42": "Tessa",
            "urn:oid:2.5.4.4": "Testaaja",
        },
        class_ref=LOA3,
        authorities=(CARD, "https://second.test"),
        authn_instant=epoch("2026-12-05T10:00:00Z"),
    )


@pytest.mark.parametrize(
    ("confirmation", "conditions", "latest"),
    [
        ("2026-12-05T10:05:00Z", "2026-12-05T10:10:00Z", "2026-12-05T10:10:00Z"),
        ("2026-12-05T10:15:00Z", "2026-12-05T10:10:00Z", "2026-12-05T10:15:00Z"),
        ("2026-12-05T10:15:00Z", None, "2026-12-05T10:15:00Z"),
        (None, "2026-12-05T10:10:00Z", "2026-12-05T10:10:00Z"),
    ],
)
def test_a_replay_is_remembered_until_the_latest_not_on_or_after_and_the_skew(
    confirmation: str | None, conditions: str | None, latest: str
) -> None:
    data = (
        f'<saml:SubjectConfirmationData NotOnOrAfter="{confirmation}"/>'
        if confirmation
        else "<saml:SubjectConfirmationData/>"
    )
    parsed = assertion(
        confirmations=CONFIRMATION
        + data
        + "</saml:SubjectConfirmation>"
        # a confirmation without data counts for nothing
        + CONFIRMATION
        + "</saml:SubjectConfirmation>",
        conditions=f'<saml:Conditions NotOnOrAfter="{conditions}"/>' if conditions else "",
    )
    assert read(parsed, skew=90).expires_at == epoch(latest) + 90


def test_an_assertion_without_not_on_or_after_is_refused() -> None:
    parsed = assertion(
        confirmations=CONFIRMATION + "<saml:SubjectConfirmationData/></saml:SubjectConfirmation>",
        conditions="<saml:Conditions/>",
    )
    assert refusal(parsed) == "suomifi: assertion without NotOnOrAfter"


def test_an_assertion_without_an_id_is_refused() -> None:
    assert refusal(assertion(id_attribute="")) == "suomifi: assertion without ID"


@pytest.mark.parametrize("where", ["conditions", "authn_instant"])
def test_a_malformed_time_is_refused(where: str) -> None:
    if where == "conditions":
        parsed = assertion(conditions='<saml:Conditions NotOnOrAfter="tomorrow"/>')
    else:
        parsed = assertion(statement='<saml:AuthnStatement AuthnInstant="2026-13-45T99:00:00Z"/>')
    assert refusal(parsed) == "suomifi: malformed SAML time"


def test_an_empty_context_leaves_class_ref_authorities_and_instant_unset() -> None:
    read_out = read(assertion(statement="<saml:AuthnStatement/>"))
    assert (read_out.class_ref, read_out.authorities, read_out.authn_instant) == (None, (), None)
    bare = read(
        assertion(statement="<saml:AuthnStatement><saml:AuthnContext/></saml:AuthnStatement>")
    )
    assert (bare.class_ref, bare.authorities) == (None, ())
    assert bare.session is not None and bare.session.session_index is None


@pytest.mark.parametrize("name_id", ["", "<saml:NameID>  </saml:NameID>", "<saml:NameID/>"])
def test_without_a_name_id_there_is_no_upstream_session(name_id: str) -> None:
    read_out = read(assertion(name_id=name_id))
    assert (read_out.name_id, read_out.session) == (None, None)


def test_a_name_id_without_qualifiers_or_session_index() -> None:
    parsed = assertion(
        name_id="<saml:NameID>_n2</saml:NameID>",
        statement='<saml:AuthnStatement SessionIndex="">' + CONTEXT + "</saml:AuthnStatement>",
    )
    assert read(parsed).session == UpstreamSession(
        idp_id="suomifi",
        name_id="_n2",
        name_id_format=None,
        name_qualifier=None,
        sp_name_qualifier=None,
        session_index=None,
    )


def test_text_of_strips_and_gives_none_for_nothing() -> None:
    parsed = assertion()
    assert text_of(parsed.issuer) == ISSUER
    assert text_of(parsed.subject.name_id) == "_n1"
    assert text_of(None) is None
    assert text_of(assertion(name_id="<saml:NameID> </saml:NameID>").subject.name_id) is None
