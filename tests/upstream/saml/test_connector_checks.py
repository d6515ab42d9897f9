"""The SAML connector's own checks, without HTTP: the AuthnRequest `start` makes (read back from
its redirect URL), and each refusal of `finish` with its exact reason, on Responses made by the
forge (real XML signed and encrypted with test keys), on both crypto backends. The attack tests
(test_attacks.py) prove that each attack is refused; these pin which check refuses it and what it
says, so that a check that stops running or names the wrong cause is noticed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest
from saml2.xml import schema as saml_schema

from broker.claims.mapping import ClaimMapping
from broker.clock import FrozenClock
from broker.errors import (
    TransactionError,
    UpstreamDeniedError,
    UpstreamLoginRequiredError,
    UpstreamRequirementError,
    UpstreamResponseError,
)
from broker.store.records import UpstreamSession
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.saml.connector import SAMLConnector
from broker.upstream.saml.sp import ServiceProvider
from tests.upstream.conftest import (
    ACS_URL,
    ELSEWHERE,
    IDP_ENTITY_ID,
    RELAY_STATE,
    SP_ENTITY_ID,
    Connectors,
    begin,
    make_connector,
    posted,
)
from tests.upstream.saml import saml_attacks as attack
from tests.upstream.saml.replays import Replays
from tests.upstream.saml.saml_forge import (
    AES256_CBC,
    CARD,
    GIVEN_NAME,
    HETU,
    LOA2,
    LOA3,
    SUCCESS,
    TESSA,
    TRANSIENT,
    Forge,
    Statement,
    encode,
    new_id,
)

pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <_io.FileIO name='/tmp/tmp"
    r":pytest.PytestUnraisableExceptionWarning"
)

SAMLP_NS = "{urn:oasis:names:tc:SAML:2.0:protocol}"
SAML_NS = "{urn:oasis:names:tc:SAML:2.0:assertion}"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
STATUS = "urn:oasis:names:tc:SAML:2.0:status:"
SSO_URL = "https://tunnistus.test/sso"
START = 1_800_000_000.0


def make(
    sp: ServiceProvider,
    metadata: Path,
    replays: Replays,
    *,
    clock: FrozenClock | None = None,
    profile: str = "suomifi",
    subject: str | None = HETU,
    idp: dict[str, Any] | None = None,
    **saml: Any,
) -> SAMLConnector:
    return make_connector(
        sp,
        metadata,
        replays,
        profile,
        subject=subject,
        clock=clock or FrozenClock(START),
        idp=idp,
        **saml,
    )


@pytest.fixture(scope="module")
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture(scope="module")
def requests(
    sp: ServiceProvider, metadata: Path, replays: Replays, clock: FrozenClock
) -> SAMLConnector:
    """For the AuthnRequests: its clock is the module's, its NameID format persistent."""
    return make(sp, metadata, replays, clock=clock, name_id_format="persistent")


def authn_request(url: str) -> tuple[dict[str, list[str]], ElementTree.Element]:
    """The redirect's query, and its AuthnRequest parsed, once valid by the SAML protocol
    schema (an IdP that validates its input refuses one with its elements out of order)."""
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    saml_schema.validate(xml)
    return query, ElementTree.fromstring(xml)  # noqa: S314 - the broker's own request


def saved_of(redirect: Any) -> dict[str, Any]:
    return json.loads(json.dumps(redirect.saved))  # as the store gives it back


# -- the AuthnRequest --------------------------------------------------------------------------


async def test_the_authn_request_asks_what_the_portal_asked(
    requests: SAMLConnector, clock: FrozenClock
) -> None:
    login = UpstreamLogin(
        redirect_uri=ACS_URL,
        relay_state=RELAY_STATE,
        prompt=["consent", "login"],
        acr_values=[LOA2, LOA3],
    )
    redirect = await requests.start(login)
    query, request = authn_request(redirect.url)
    assert urlsplit(redirect.url)._replace(query="").geturl() == SSO_URL
    assert sorted(query) == ["RelayState", "SAMLRequest", "SigAlg", "Signature"]
    assert query["RelayState"] == [RELAY_STATE]
    assert query["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]
    saved = saved_of(redirect)
    assert re.fullmatch(r"_[0-9a-f]{40}", saved["request_id"])
    assert saved == {
        "idp": "suomifi",
        "request_id": saved["request_id"],
        "relay_state": RELAY_STATE,
        "prompt": ["login"],  # only login and none go upstream
        "max_age": None,
        "acr_values": [LOA2, LOA3],
        "force_authn": True,
        "started_at": clock.now(),
    }
    assert request.get("ID") == saved["request_id"]
    assert request.get("AssertionConsumerServiceURL") == ACS_URL
    assert request.get("Destination") == SSO_URL
    assert (request.get("ForceAuthn"), request.get("IsPassive")) == ("true", None)
    (policy,) = request.iter(f"{SAMLP_NS}NameIDPolicy")
    assert policy.get("Format") == PERSISTENT
    (context,) = request.findall(f"{SAMLP_NS}RequestedAuthnContext")
    assert context.get("Comparison") == "exact"
    assert [c.text for c in context] == [LOA2, LOA3]
    (issuer,) = request.iter(f"{SAML_NS}Issuer")
    assert issuer.text == SP_ENTITY_ID


async def test_the_acr_values_are_asked_in_the_idps_words(
    sp: ServiceProvider, metadata: Path, replays: Replays
) -> None:
    mapping = ClaimMapping(acr_values={LOA3: "https://broker.test/loa/high"})
    connector = make(sp, metadata, replays, idp={"claims": mapping})
    login = UpstreamLogin(redirect_uri=ACS_URL, acr_values=["https://broker.test/loa/high"])
    _, request = authn_request((await connector.start(login)).url)
    (context,) = request.findall(f"{SAMLP_NS}RequestedAuthnContext")
    assert [c.text for c in context] == [LOA3]


async def test_the_authn_request_goes_to_the_configured_idp_of_a_federation(
    sp: ServiceProvider, forge: Forge, replays: Replays, tmp_path: Path
) -> None:
    """Metadata that describes several IdPs (a federation's): the request goes to the one
    configured, never to another member or nowhere."""
    federation = tmp_path / "federation.xml"
    federation.write_text(
        f'<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">'
        f"{forge.metadata('https://other.test/idp', 'https://other.test/sso')}"
        f"{forge.metadata(IDP_ENTITY_ID, SSO_URL)}</md:EntitiesDescriptor>"
    )
    connector = make(sp, federation, replays)
    _, request = authn_request((await connector.start(UpstreamLogin(redirect_uri=ACS_URL))).url)
    assert request.get("Destination") == SSO_URL


@pytest.mark.parametrize(
    ("prompt", "max_age", "force_authn", "is_passive"),
    [
        ([], None, None, None),
        ([], 600, "true", None),  # max_age is checked against a fresh AuthnInstant
        (["login"], None, "true", None),
        (["none"], None, None, "true"),
        (["none"], 600, None, "true"),  # IsPassive with ForceAuthn must fail (Core §3.4.1)
        (["none", "login"], None, None, "true"),
    ],
)
async def test_force_authn_and_is_passive(
    requests: SAMLConnector,
    prompt: list[str],
    max_age: int | None,
    force_authn: str | None,
    is_passive: str | None,
) -> None:
    login = UpstreamLogin(redirect_uri=ACS_URL, prompt=prompt, max_age=max_age)
    redirect = await requests.start(login)
    query, request = authn_request(redirect.url)
    assert (request.get("ForceAuthn"), request.get("IsPassive")) == (force_authn, is_passive)
    assert saved_of(redirect)["force_authn"] is (force_authn == "true")
    assert saved_of(redirect)["max_age"] == max_age
    # no RelayState asked: none is sent, and none saved
    assert "RelayState" not in query and saved_of(redirect)["relay_state"] is None
    assert not list(request.iter(f"{SAMLP_NS}RequestedAuthnContext"))


async def test_each_login_has_its_own_request_id(requests: SAMLConnector) -> None:
    ids = {saved_of(await requests.start(UpstreamLogin(redirect_uri=ACS_URL)))["request_id"]}
    ids.add(saved_of(await requests.start(UpstreamLogin(redirect_uri=ACS_URL)))["request_id"])
    assert len(ids) == 2


async def test_the_relay_state_is_at_most_80_bytes(requests: SAMLConnector) -> None:
    most = "ä" * 40  # 80 bytes in UTF-8
    redirect = await requests.start(UpstreamLogin(redirect_uri=ACS_URL, relay_state=most))
    assert authn_request(redirect.url)[0]["RelayState"] == [most]
    for longer in ("ä" * 40 + "a", "ä" * 41):  # 41 characters, 82 bytes
        with pytest.raises(ValueError, match=r"^RelayState longer than 80 bytes$"):
            await requests.start(UpstreamLogin(redirect_uri=ACS_URL, relay_state=longer))


async def test_only_the_acs_url_is_a_redirect_uri(requests: SAMLConnector) -> None:
    with pytest.raises(
        ValueError, match=r"^suomifi: redirect_uri is not this connector's ACS URL$"
    ):
        await requests.start(UpstreamLogin(redirect_uri=ACS_URL + "/"))


# -- the Response: what a genuine one gives --------------------------------------------------


async def test_a_genuine_answer_gives_the_whole_identity(
    sp: ServiceProvider, metadata: Path, forge: Forge
) -> None:
    replays = Replays()
    connector = make(sp, metadata, replays, clock=FrozenClock(time.time()))
    saved, s = await begin(connector)
    identity = await connector.finish(posted(forge.genuine(s)), saved)
    assert identity.session is not None and identity.session.session_index
    assert identity.session == UpstreamSession(
        idp_id="suomifi",
        name_id=s.name_id,
        name_id_format=TRANSIENT,
        session_index=identity.session.session_index,
    )
    assert (identity.idp_id, identity.issuer, identity.subject) == ("suomifi", IDP_ENTITY_ID, TESSA)
    assert identity.claims == {HETU: TESSA, GIVEN_NAME: "Tessa"}
    assert (identity.acr, identity.amr) == (LOA3, (CARD,))
    assert identity.auth_time == float(int(s.now))
    # remembered until the latest NotOnOrAfter (five minutes on) and the skew
    assert replays.seen == {(IDP_ENTITY_ID, s.assertion_id): float(int(s.now)) + 300 + 60}


async def test_the_acr_is_told_in_the_brokers_words_or_the_default(
    sp: ServiceProvider, metadata: Path, replays: Replays, forge: Forge
) -> None:
    mapping = ClaimMapping(acr_values={LOA3: "https://broker.test/loa/high"})
    idp = {"claims": mapping, "default_acr": "https://broker.test/loa/low"}
    connector = make(sp, metadata, replays, clock=FrozenClock(time.time()), idp=idp)
    saved, s = await begin(connector)
    assert (await connector.finish(posted(forge.genuine(s)), saved)).acr == (
        "https://broker.test/loa/high"
    )
    saved, s = await begin(connector)
    answer = forge.genuine(replace(s, class_ref=""))  # no AuthnContextClassRef text
    assert (await connector.finish(posted(answer), saved)).acr == "https://broker.test/loa/low"


async def test_a_login_is_logged_by_the_idps_name_and_level(
    connectors: Connectors, forge: Forge, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator's record of which IdP a login went to and what it verified."""
    caplog.set_level(logging.INFO, logger="broker.upstream.saml.connector")
    connector = connectors.get("suomifi")
    saved, s = await begin(connector)
    await connector.finish(posted(forge.genuine(s)), saved)
    logged = [r.getMessage() for r in caplog.records if r.name == "broker.upstream.saml.connector"]
    assert logged[-2:] == [  # after the metadata's own lines
        "idp suomifi: AuthnRequest ready",
        f"idp suomifi: login verified (acr {LOA3})",
    ]


async def test_a_replayed_assertion_is_refused_by_name(
    connectors: Connectors, forge: Forge
) -> None:
    connector = connectors.get("suomifi")
    saved, s = await begin(connector)
    answer = posted(forge.genuine(s))
    await connector.finish(answer, saved)
    with pytest.raises(UpstreamResponseError) as refused:
        await connector.finish(answer, saved)
    assert refused.value.detail == "suomifi: assertion replayed"


# -- the subject -------------------------------------------------------------------------------


def subject_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The connector's warnings about the subject (the metadata's own may come first)."""
    return [r.getMessage() for r in caplog.records if "subject" in r.getMessage()]


async def test_the_subject_attribute_is_the_subject_stripped(
    connectors: Connectors, forge: Forge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="broker.upstream.saml.connector")
    connector = connectors.get("suomifi")
    saved, s = await begin(connector)
    answer = forge.genuine(replace(s, attributes={HETU: f"  {TESSA}  "}))
    assert (await connector.finish(posted(answer), saved)).subject == TESSA
    assert not subject_warnings(caplog)


async def test_without_the_subject_attribute_the_name_id_stands_in_and_is_logged(
    connectors: Connectors, forge: Forge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="broker.upstream.saml.connector")
    connector = connectors.get("suomifi")
    for attributes in ({HETU: "   "}, {GIVEN_NAME: "Tessa"}):
        caplog.clear()
        saved, s = await begin(connector)
        answer = forge.genuine(replace(s, attributes=attributes))
        assert (await connector.finish(posted(answer), saved)).subject == s.name_id
        assert subject_warnings(caplog) == [
            "idp suomifi: subject attribute missing; the NameID stands in"
        ]


async def test_without_a_subject_attribute_configured_the_name_id_is_the_subject(
    connectors: Connectors, forge: Forge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="broker.upstream.saml.connector")
    connector = connectors.get("suomifi", 60, None)
    saved, s = await begin(connector)
    assert (await connector.finish(posted(forge.genuine(s)), saved)).subject == s.name_id
    assert not subject_warnings(caplog)


async def test_no_name_id_and_no_subject_attribute_is_refused(
    connectors: Connectors, forge: Forge
) -> None:
    connector = connectors.get("suomifi")
    saved, s = await begin(connector)
    answer = forge.genuine(replace(s, name_id="", attributes={GIVEN_NAME: "Tessa"}))
    with pytest.raises(UpstreamResponseError) as refused:
        await connector.finish(posted(answer), saved)
    assert refused.value.detail == "suomifi: no NameID and no subject attribute"


# -- the ACS form and the envelope -------------------------------------------------------------


async def test_the_form_needs_a_samlresponse_of_at_most_512_kib(
    connectors: Connectors,
) -> None:
    connector = connectors.get("suomifi")
    saved, _ = await begin(connector)
    cases = {
        "": "suomifi: ACS form without SAMLResponse",
        "A" * (512 * 1024 + 4): "suomifi: SAMLResponse too large",
        # exactly the limit is read (and found to be no XML)
        "A" * (512 * 1024): "suomifi: SAMLResponse: ParseError",
    }
    for value, detail in cases.items():
        with pytest.raises(UpstreamResponseError) as refused:
            await connector.finish({"SAMLResponse": value, "RelayState": RELAY_STATE}, saved)
        assert refused.value.detail == detail
    with pytest.raises(UpstreamResponseError) as refused:
        await connector.finish({"RelayState": RELAY_STATE}, saved)
    assert refused.value.detail == "suomifi: ACS form without SAMLResponse"


async def test_the_relay_state_must_come_back_unless_none_was_sent(
    connectors: Connectors, forge: Forge
) -> None:
    connector = connectors.get("suomifi")
    saved, s = await begin(connector)
    form = posted(forge.genuine(s))
    for relay_state in ({}, {"RelayState": ""}, {"RelayState": RELAY_STATE + "x"}):
        with pytest.raises(UpstreamResponseError) as refused:
            await connector.finish({"SAMLResponse": form["SAMLResponse"], **relay_state}, saved)
        assert refused.value.detail == "suomifi: RelayState is not this login's"
    redirect = await connector.start(UpstreamLogin(redirect_uri=ACS_URL))
    saved = saved_of(redirect)
    answer = forge.genuine(replace(s, in_response_to=saved["request_id"], assertion_id=new_id()))
    identity = await connector.finish({"SAMLResponse": encode(answer)}, saved)
    assert identity.subject == TESSA


async def test_saved_state_that_is_not_text_is_a_broken_transaction(
    connectors: Connectors, forge: Forge
) -> None:
    connector = connectors.get("suomifi")
    saved, s = await begin(connector)
    form = posted(forge.genuine(s))
    for broken in ({"request_id": 7}, {"idp": None}):
        with pytest.raises(TransactionError) as refused:
            await connector.finish(form, {**saved, **broken})
        assert refused.value.detail == "suomifi: saved upstream login state is malformed"
        assert str(refused.value.__cause__) == "saved text missing"
    with pytest.raises(TransactionError, match=r"^suomifi: saved upstream login state is for hus$"):
        await connector.finish(form, {**saved, "idp": "hus"})


@pytest.mark.parametrize(
    ("response", "detail"),
    [
        ("not base64 at all!", "suomifi: SAMLResponse is not base64"),
        (encode("<samlp:Response"), "suomifi: SAMLResponse: ParseError"),
        (encode("<a/>"), "suomifi: SAMLResponse is not a samlp:Response"),
    ],
)
async def test_an_unreadable_response_is_refused_by_name(
    connectors: Connectors, response: str, detail: str
) -> None:
    connector = connectors.get("suomifi")
    saved, _ = await begin(connector)
    with pytest.raises(UpstreamResponseError) as refused:
        await connector.finish({"SAMLResponse": response, "RelayState": RELAY_STATE}, saved)
    assert refused.value.detail == detail


def _signed_response(forge: Forge, s: Statement, body: str) -> str:
    """A Response around `body`, signed by the IdP (the forge signs only what it built)."""
    return forge.response(s, body)


@pytest.mark.parametrize(
    ("profile", "build", "detail"),
    [
        ("suomifi", lambda f, s: _signed_response(f, s, ""), "suomifi: 0 assertions, wanted one"),
        (
            "assertion_signed",
            attack.xsw3_evil_before_signed_each_encrypted,
            "suomifi: 2 assertions, wanted one",
        ),
        ("in_clear", attack.xsw3_evil_before_signed_in_clear, "suomifi: 2 assertions, wanted one"),
        ("suomifi", attack.in_clear, "suomifi: assertion not encrypted"),
    ],
)
async def test_one_assertion_encrypted_is_wanted(
    connectors: Connectors, forge: Forge, profile: str, build: Any, detail: str
) -> None:
    connector = connectors.get(profile)
    saved, s = await begin(connector)
    with pytest.raises(UpstreamResponseError) as refused:
        await connector.finish(posted(build(forge, s)), saved)
    assert refused.value.detail == detail


async def test_a_legacy_algorithm_the_idp_may_not_use_is_refused_by_name(
    connectors: Connectors, forge: Forge
) -> None:
    connector = connectors.get("suomifi")
    saved, s = await begin(connector)
    body = forge.encrypted(forge.assertion(s), data_alg=AES256_CBC)
    with pytest.raises(UpstreamResponseError) as refused:
        await connector.finish(posted(forge.response(s, body)), saved)
    assert refused.value.detail == "suomifi: encryption algorithm not allowed: aes256-cbc"


# -- SAML error statuses -----------------------------------------------------------------------


def with_status(forge: Forge, s: Statement, top: str, second: str | None) -> str:
    """An unsigned Response without assertion whose Status is `top` (and `second` within)."""
    inner = f'<samlp:StatusCode Value="{STATUS}{second}"/>' if second else ""
    status = f'<samlp:Status><samlp:StatusCode Value="{STATUS}{top}">{inner}</samlp:StatusCode>'
    xml = forge.response(s, "", signed=False)
    old = f'<samlp:Status><samlp:StatusCode Value="{SUCCESS}"/>'
    assert old in xml
    return xml.replace(old, status)


@pytest.mark.parametrize(
    ("top", "second", "error", "detail"),
    [
        ("Responder", "NoPassive", UpstreamLoginRequiredError, "StatusNoPassive (Responder)"),
        (
            "Responder",
            "NoAuthnContext",
            UpstreamRequirementError,
            "StatusNoAuthnContext (Responder)",
        ),
        ("Responder", "AuthnFailed", UpstreamDeniedError, "StatusAuthnFailed (Responder)"),
        ("Requester", "RequestDenied", UpstreamDeniedError, "StatusRequestDenied (Requester)"),
        ("Responder", None, UpstreamDeniedError, "StatusError (Responder)"),
        (
            "Responder",
            "UnknownPrincipal",
            UpstreamDeniedError,
            "StatusUnknownPrincipal (Responder)",
        ),
        ("Requester", None, UpstreamResponseError, "StatusError (Requester)"),
        (
            "Requester",
            "UnsupportedBinding",
            UpstreamResponseError,
            "StatusUnsupportedBinding (Requester)",
        ),
    ],
)
async def test_an_error_status_is_told_apart(
    connectors: Connectors,
    forge: Forge,
    top: str,
    second: str | None,
    error: type[Exception],
    detail: str,
) -> None:
    connector = connectors.get("assertion_signed")
    saved, s = await begin(connector)
    with pytest.raises(error) as refused:
        await connector.finish(posted(with_status(forge, s, top, second)), saved)
    assert type(refused.value) is error
    assert refused.value.detail == f"suomifi: IdP answered {detail}"  # type: ignore[attr-defined]


# -- what pysaml2 leaves unchecked -------------------------------------------------------------


def signed_assertion(forge: Forge, s: Statement, change: Any = None) -> str:
    """The assertion for `s`, its XML changed by `change` before the IdP's key signs it."""
    template = forge._signature_template(s.assertion_id, None)
    xml = attack.after(forge.assertion(s, signed=False), "</saml:Issuer>", template)
    return forge.sign(change(xml) if change else xml, s.assertion_id)


def _method(method: str) -> Any:
    return lambda xml: xml.replace("urn:oasis:names:tc:SAML:2.0:cm:bearer", method)


def _confirmation_twice(first: Any) -> Any:
    """Two SubjectConfirmations: `first` changed, then the genuine one."""

    def change(xml: str) -> str:
        found = re.search(r"<saml:SubjectConfirmation\b.*?</saml:SubjectConfirmation>", xml)
        assert found
        return xml.replace(found[0], first(found[0]) + found[0])

    return change


def _no_confirmation_data(xml: str) -> str:
    return re.sub(r"<saml:SubjectConfirmationData\b[^>]*/>", "", xml)


def _no_confirmation_deadline(xml: str) -> str:
    return re.sub(r'(<saml:SubjectConfirmationData\b[^>]*) NotOnOrAfter="[^"]*"', r"\1", xml)


def _in_assertion(change: Any) -> Any:
    return lambda forge, s: forge.response(s, forge.encrypted(signed_assertion(forge, s, change)))


def _response_without_issuer(forge: Forge, s: Statement) -> str:
    xml = forge.response(s, forge.encrypted(forge.assertion(s)), signed=False)
    return xml.replace(f"<saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer>", "", 1)


def _response_from_elsewhere(forge: Forge, s: Statement) -> str:
    body = forge.encrypted(forge.assertion(s))
    return forge.response(replace(s, issuer=f"{ELSEWHERE}/idp"), body, signed=False)


def _assertion_from_elsewhere(forge: Forge, s: Statement) -> str:
    body = forge.encrypted(forge.assertion(replace(s, issuer=f"{ELSEWHERE}/idp"), signed=False))
    return forge.response(s, body)


def _spoiled(**changes: Any) -> Any:
    return lambda forge, s: forge.genuine(replace(s, **changes))


NO_BEARER = "no bearer SubjectConfirmation for this ACS and AuthnRequest"


@pytest.mark.parametrize(
    ("profile", "build", "detail"),
    [
        (
            "suomifi",
            _spoiled(destination="", recipient=ACS_URL),
            "Destination is not the ACS URL",
        ),
        (
            "suomifi",
            _spoiled(destination=f"{ELSEWHERE}/acs", recipient=ACS_URL),
            "response refused (no assertion)",
        ),
        (
            "unsolicited_allowed",
            _spoiled(in_response_to=new_id()),
            "InResponseTo is not this login's AuthnRequest",
        ),
        ("assertion_signed", _response_from_elsewhere, "Response Issuer is not the IdP"),
        ("response_signed", _assertion_from_elsewhere, "Assertion Issuer is not the IdP"),
        ("suomifi", _spoiled(recipient=f"{ELSEWHERE}/acs"), NO_BEARER),
        ("suomifi", _spoiled(confirmation_in_response_to=new_id()), NO_BEARER),
        (
            "suomifi",
            _in_assertion(_method("urn:oasis:names:tc:SAML:2.0:cm:sender-vouches")),
            NO_BEARER,
        ),
        ("suomifi", _in_assertion(_no_confirmation_deadline), NO_BEARER),
    ],
)
async def test_what_pysaml2_leaves_unchecked_is_refused_by_name(
    connectors: Connectors, forge: Forge, replays: Replays, profile: str, build: Any, detail: str
) -> None:
    connector = connectors.get(profile)
    saved, s = await begin(connector)
    remembered = dict(replays.seen)
    with pytest.raises(UpstreamResponseError) as refused:
        await connector.finish(posted(build(forge, s)), saved)
    assert refused.value.detail == f"suomifi: {detail}"
    assert replays.seen == remembered


@pytest.mark.parametrize(
    ("profile", "build"),
    [
        ("assertion_signed", _response_without_issuer),  # the Response's Issuer is optional
        ("suomifi", _spoiled(confirmation_in_response_to=None)),
        (
            "suomifi",
            _in_assertion(
                _confirmation_twice(_method("urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"))
            ),
        ),
        ("suomifi", _in_assertion(_confirmation_twice(_no_confirmation_data))),
    ],
)
async def test_what_the_checks_let_through(
    connectors: Connectors, forge: Forge, profile: str, build: Any
) -> None:
    connector = connectors.get(profile)
    saved, s = await begin(connector)
    assert (await connector.finish(posted(build(forge, s)), saved)).subject == TESSA


# -- what the portal asked ---------------------------------------------------------------------


async def test_force_authn_wants_an_authn_instant_within_the_skew_of_the_start(
    connectors: Connectors, forge: Forge
) -> None:
    """The connector's own check (prompt and max_age are not asked here, so nothing else
    looks at the AuthnInstant): at most the skew (60 s) before the AuthnRequest."""
    connector = connectors.get("suomifi")
    for late, accepted in ((60, True), (61, False)):
        saved, s = await begin(connector)
        saved = {**saved, "force_authn": True, "started_at": float(int(s.now)) + late}
        answer = posted(forge.genuine(s))
        if accepted:
            assert (await connector.finish(answer, saved)).subject == TESSA
            continue
        with pytest.raises(UpstreamRequirementError) as refused:
            await connector.finish(answer, saved)
        assert refused.value.detail == "suomifi: ForceAuthn, but the IdP did not authenticate again"


async def test_max_age_is_measured_by_the_connectors_clock_and_skew(
    requests: SAMLConnector, clock: FrozenClock, forge: Forge
) -> None:
    for age, accepted in ((120, True), (121, False)):  # max_age 60 and the skew 60
        saved, s = await begin(requests)
        saved = {**saved, "max_age": 60, "started_at": s.now - 600}
        clock.advance(float(int(s.now)) + age - clock.now())
        answer = posted(forge.genuine(replace(s, audience=SP_ENTITY_ID)))
        if accepted:
            assert (await requests.finish(answer, saved)).subject == TESSA
            continue
        with pytest.raises(UpstreamRequirementError) as refused:
            await requests.finish(answer, saved)
        assert refused.value.detail == "suomifi: authentication older than max_age"


# -- pysaml2's log -----------------------------------------------------------------------------


def test_pysaml2_is_kept_quiet_unless_the_operator_set_its_level(
    sp: ServiceProvider, metadata: Path, replays: Replays
) -> None:
    """pysaml2 logs refused assertions whole (identity codes and all), even at ERROR."""
    saml2_log = logging.getLogger("saml2")
    before = saml2_log.level
    try:
        saml2_log.setLevel(logging.NOTSET)
        make(sp, metadata, replays)
        assert saml2_log.level == logging.CRITICAL
        saml2_log.setLevel(logging.INFO)
        make(sp, metadata, replays)
        assert saml2_log.level == logging.INFO
    finally:
        saml2_log.setLevel(before)


# -- the metadata ------------------------------------------------------------------------------


async def test_the_metadata_is_kept_fresh_in_the_background(
    sp: ServiceProvider, metadata: Path, replays: Replays
) -> None:
    """Readiness says no until the background task has loaded the IdP's metadata; the task
    then sleeps on (it must not end: it is the refresh of every later hour)."""
    connector = make(sp, metadata, replays)
    assert connector.metadata_usable() is False
    task = asyncio.create_task(connector.keep_metadata_fresh(3600))
    try:
        for _ in range(600):  # the first load builds a pysaml2 client in a thread
            if connector.metadata_usable() or task.done():
                break
            await asyncio.sleep(0.1)
        assert connector.metadata_usable() is True
        assert not task.done()
        assert (await connector.idp_client()).entity_id == IDP_ENTITY_ID
    finally:
        task.cancel()


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        ("", "suomifi: 0 assertions, wanted one"),  # no Status: pysaml2 takes it for Success
        ("<samlp:Status/>", "suomifi: 0 assertions, wanted one"),  # nor a StatusCode
    ],
)
async def test_a_response_without_status_code_is_read_as_success(
    connectors: Connectors, forge: Forge, status: str, detail: str
) -> None:
    connector = connectors.get("assertion_signed")
    saved, s = await begin(connector)
    xml = forge.response(s, "", signed=False)
    old = f'<samlp:Status><samlp:StatusCode Value="{SUCCESS}"/></samlp:Status>'
    assert old in xml
    with pytest.raises(UpstreamResponseError) as refused:
        await connector.finish(posted(xml.replace(old, status)), saved)
    assert refused.value.detail == detail
