"""`SingleLogout` without HTTP: each check of a LogoutResponse and of the IdP's LogoutRequest,
on messages signed (HTTP-Redirect binding) with the forged IdP's key that its metadata publishes,
and the broker's own LogoutRequest and LogoutResponse read back as the IdP would read them.
Through real servers: tests/flows/test_suomifi_logout.py."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from broker.errors import UpstreamLogoutError
from broker.store.records import UpstreamSession
from broker.upstream.saml.logout import (
    MESSAGE_LIFETIME,
    USER_LOGOUT,
    IdPLogoutRequest,
    SingleLogout,
    new_message_id,
    sender_of,
)
from broker.upstream.saml.pysaml2 import samlp
from broker.upstream.saml.redirect_binding import RedirectMessage, decode, encode
from broker.upstream.saml.sp import ServiceProvider
from mock_idps.saml_common.keys import KeyPair
from tests.upstream.conftest import IDP_ENTITY_ID, SP_ENTITY_ID, make_connector
from tests.upstream.saml import metadata_forge as md
from tests.upstream.saml.replays import Replays
from tests.upstream.saml.saml_forge import SAML, SAMLP, SUCCESS, TRANSIENT, Forge, instant

SLO_URL = "http://127.0.0.1:9/upstream/saml/slo"  # the broker's
IDP_SLO = "https://tunnistus.test/slo"
IDP_SLO_RESPONSES = "https://tunnistus.test/slo-responses"
ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
PARTIAL = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
NOW = 1_800_000_000.0
SKEW = 60


@pytest.fixture(scope="session")
def sp(saml_sp_keys: Path) -> ServiceProvider:
    """One crypto backend: single logout's signatures are the binding's, not the backend's."""
    return ServiceProvider.load(SP_ENTITY_ID, saml_sp_keys)


def private_key(pair: KeyPair) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pair.key_file.read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def metadata_with(forge: Forge, slo: str) -> str:
    """The forged IdP's metadata with `slo` (SingleLogoutService elements) in its place."""
    xml = md.unsigned(md.entity(IDP_ENTITY_ID, "https://tunnistus.test/sso", [forge.key]))
    return xml.replace(f"<md:NameIDFormat>{TRANSIENT}", f"{slo}<md:NameIDFormat>{TRANSIENT}")


def redirect_service(location: str, response_location: str | None = None) -> str:
    response = f" ResponseLocation={quoteattr(response_location)}" if response_location else ""
    return (
        f'<md:SingleLogoutService Binding="{md.REDIRECT}" Location={quoteattr(location)}'
        f"{response}/>"
    )


def written(path: Path, xml: str) -> Path:
    path.write_text(xml)
    return path


async def single_logout(sp: ServiceProvider, metadata: Path) -> SingleLogout:
    connector = make_connector(sp, metadata, Replays(), "suomifi")
    idp = await connector.idp_client()
    return SingleLogout("suomifi", idp, SP_ENTITY_ID, SLO_URL, sp.keys.signing_key, SKEW)


@pytest.fixture
async def slo(sp: ServiceProvider, forge: Forge, tmp_path: Path) -> SingleLogout:
    xml = metadata_with(forge, redirect_service(IDP_SLO, IDP_SLO_RESPONSES))
    return await single_logout(sp, written(tmp_path / "idp.xml", xml))


def session(**changes: Any) -> UpstreamSession:
    fields: dict[str, Any] = {
        "idp_id": "suomifi",
        "name_id": "AAdzZWNyZXQx",
        "name_id_format": TRANSIENT,
        "name_qualifier": IDP_ENTITY_ID,
        "sp_name_qualifier": SP_ENTITY_ID,
        "session_index": "_session-1",
    }
    return UpstreamSession(**(fields | changes))


def from_idp(
    forge: Forge, kind: str, xml: str, relay_state: str | None = "rs-1"
) -> RedirectMessage:
    """`xml` as the IdP's HTTP-Redirect message to the broker, signed with its metadata key."""
    url = encode(SLO_URL, kind, xml, relay_state, private_key(forge.key))
    return decode(urlsplit(url).query)


def read_back(url: str, sp: ServiceProvider) -> tuple[RedirectMessage, Any]:
    """A message the broker sent, checked and parsed as the IdP would: the signature by the SP's
    certificate, then the XML."""
    message = decode(urlsplit(url).query)
    cert = x509.load_pem_x509_certificate(sp.keys.cert_file.read_bytes())
    der = cert.public_bytes(serialization.Encoding.DER)
    message.verify([base64.b64encode(der).decode()])
    return message, message.xml.decode()


def logout_response(
    in_response_to: str = "_request-1",
    *,
    issuer: str = IDP_ENTITY_ID,
    destination: str = SLO_URL,
    version: str = "2.0",
    status: str | None = f'<samlp:Status><samlp:StatusCode Value="{SUCCESS}"/></samlp:Status>',
) -> str:
    return (
        f'<samlp:LogoutResponse xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" Version="{version}"'
        f' ID="_response-1" IssueInstant="{instant(NOW)}" InResponseTo="{in_response_to}"'
        f" Destination={quoteattr(destination)}>"
        f"<saml:Issuer>{issuer}</saml:Issuer>{status or ''}</samlp:LogoutResponse>"
    )


def logout_request(
    *,
    request_id: str = "_idp-request-1",
    issued: float | None = NOW,
    not_after: float | str | None = None,
    name_id: str = "<saml:NameID>AAdzZWNyZXQx</saml:NameID>",
    indexes: tuple[str, ...] = ("_session-1",),
    issuer: str = IDP_ENTITY_ID,
    destination: str = SLO_URL,
) -> str:
    attributes = f' ID="{request_id}"' if request_id else ""
    if issued is not None:
        attributes += f' IssueInstant="{instant(issued)}"'
    if not_after is not None:
        when = not_after if isinstance(not_after, str) else instant(not_after)
        attributes += f' NotOnOrAfter="{when}"'
    sessions = "".join(f"<samlp:SessionIndex>{i}</samlp:SessionIndex>" for i in indexes)
    return (
        f'<samlp:LogoutRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" Version="2.0"'
        f"{attributes} Destination={quoteattr(destination)}>"
        f"<saml:Issuer>{issuer}</saml:Issuer>{name_id}{sessions}</samlp:LogoutRequest>"
    )


def refusal(error: pytest.ExceptionInfo[UpstreamLogoutError]) -> str:
    return error.value.detail


# -- the IdP's SingleLogoutService --------------------------------------------------------------
async def test_the_idps_redirect_service_and_its_response_location(
    slo: SingleLogout, sp: ServiceProvider, forge: Forge, tmp_path: Path
) -> None:
    assert slo.endpoint() == (IDP_SLO, IDP_SLO_RESPONSES)
    post = f'<md:SingleLogoutService Binding="{md.REDIRECT[:-8]}POST" Location="https://x.test"/>'
    only_location = metadata_with(forge, post + redirect_service(IDP_SLO))
    same = await single_logout(sp, written(tmp_path / "same.xml", only_location))
    assert same.endpoint() == (IDP_SLO, IDP_SLO)


async def test_without_a_redirect_service_there_is_no_single_logout(
    sp: ServiceProvider, forge: Forge, tmp_path: Path
) -> None:
    post = f'<md:SingleLogoutService Binding="{md.REDIRECT[:-8]}POST" Location="https://x.test"/>'
    none = await single_logout(sp, written(tmp_path / "none.xml", metadata_with(forge, post)))
    assert none.endpoint() is None
    with pytest.raises(UpstreamLogoutError) as caught:
        none.request_url(session(), "_r", "rs", NOW)
    assert refusal(caught) == "suomifi: metadata has no HTTP-Redirect SLO service"
    request = IdPLogoutRequest("_q", "n", (), None, NOW)
    with pytest.raises(UpstreamLogoutError, match="no HTTP-Redirect SLO service"):
        none.response_url(request, SUCCESS, NOW)


# -- the broker's messages ----------------------------------------------------------------------
async def test_the_logout_request_names_the_session_and_is_signed(
    slo: SingleLogout, sp: ServiceProvider
) -> None:
    url = slo.request_url(session(), "_request-1", "rs-1", NOW)
    assert url.startswith(IDP_SLO + "?SAMLRequest=")
    message, xml = read_back(url, sp)
    assert (message.kind, message.relay_state) == ("SAMLRequest", "rs-1")
    request = samlp.logout_request_from_string(xml)
    assert (request.id, request.version) == ("_request-1", "2.0")
    assert request.issue_instant == "2027-01-15T08:00:00Z"
    assert (request.destination, request.reason) == (IDP_SLO, USER_LOGOUT)
    assert (request.issuer.text, request.issuer.format) == (SP_ENTITY_ID, ENTITY)
    name_id = request.name_id
    assert (name_id.text, name_id.format) == ("AAdzZWNyZXQx", TRANSIENT)
    assert (name_id.name_qualifier, name_id.sp_name_qualifier) == (IDP_ENTITY_ID, SP_ENTITY_ID)
    assert [i.text for i in request.session_index] == ["_session-1"]

    without_index = slo.request_url(session(session_index=None), "_request-2", "rs-2", NOW)
    assert "SessionIndex" not in read_back(without_index, sp)[1]


async def test_the_logout_response_answers_the_idps_request(
    slo: SingleLogout, sp: ServiceProvider
) -> None:
    request = IdPLogoutRequest("_idp-request-1", "n", ("_s",), "rs-9", NOW + 420)
    url = slo.response_url(request, PARTIAL, NOW)
    assert url.startswith(IDP_SLO_RESPONSES + "?SAMLResponse=")
    message, xml = read_back(url, sp)
    assert (message.kind, message.relay_state) == ("SAMLResponse", "rs-9")
    response = samlp.logout_response_from_string(xml)
    assert response.id.startswith("_") and len(response.id) == 41
    assert (response.version, response.issue_instant) == ("2.0", "2027-01-15T08:00:00Z")
    assert (response.destination, response.in_response_to) == (IDP_SLO_RESPONSES, "_idp-request-1")
    assert (response.issuer.text, response.issuer.format) == (SP_ENTITY_ID, ENTITY)
    assert response.status.status_code.value == PARTIAL


def test_message_ids_are_random_ncnames() -> None:
    first, second = new_message_id(), new_message_id()
    assert first != second
    assert first[0] == "_" and len(first) == 41 and int(first[1:], 16) >= 0


# -- the IdP's LogoutResponse -------------------------------------------------------------------
async def test_a_logout_response_to_the_brokers_request_gives_its_status(
    slo: SingleLogout, forge: Forge
) -> None:
    message = from_idp(forge, "SAMLResponse", logout_response())
    assert slo.check_response(message, "_request-1") == SUCCESS
    partial = logout_response(
        status=f'<samlp:Status><samlp:StatusCode Value="{PARTIAL}"/></samlp:Status>'
    )
    assert slo.check_response(from_idp(forge, "SAMLResponse", partial), "_request-1") == PARTIAL


@pytest.mark.parametrize(
    ("xml", "why"),
    [
        (logout_response("_another"), "InResponseTo is not the broker's LogoutRequest"),
        (logout_response(status=None), "LogoutResponse without a status"),
        (
            logout_response(status="<samlp:Status><samlp:StatusCode/></samlp:Status>"),
            "LogoutResponse without a status",
        ),
        (logout_response(issuer="https://elsewhere.test"), "Issuer is not the IdP"),
        (logout_response(issuer=""), "Issuer is not the IdP"),
        (
            logout_response(destination="https://elsewhere.test/slo"),
            "Destination is not the broker's SingleLogoutService",
        ),
        (logout_response(version="1.1"), "not SAML 2.0"),
        (logout_request(), "SAMLResponse is not the expected message"),
        ("<samlp:LogoutResponse", "unreadable SAMLResponse: ParseError"),
    ],
)
async def test_a_logout_response_is_refused(
    slo: SingleLogout, forge: Forge, xml: str, why: str
) -> None:
    with pytest.raises(UpstreamLogoutError) as caught:
        slo.check_response(from_idp(forge, "SAMLResponse", xml), "_request-1")
    assert refusal(caught) == f"suomifi: {why}"


async def test_a_message_not_signed_by_the_idps_metadata_key_is_refused(
    slo: SingleLogout, forge: Forge
) -> None:
    url = encode(SLO_URL, "SAMLResponse", logout_response(), "rs", private_key(forge.impostor))
    with pytest.raises(UpstreamLogoutError) as caught:
        slo.check_response(decode(urlsplit(url).query), "_request-1")
    assert refusal(caught) == "suomifi: signature is not by the sender's metadata key"


async def test_a_request_where_a_response_is_expected_is_refused(
    slo: SingleLogout, forge: Forge
) -> None:
    with pytest.raises(UpstreamLogoutError) as caught:
        slo.check_response(from_idp(forge, "SAMLRequest", logout_request()), "_request-1")
    assert refusal(caught) == "suomifi: SAMLRequest where a SAMLResponse was expected"
    with pytest.raises(UpstreamLogoutError) as caught:
        slo.read_request(from_idp(forge, "SAMLResponse", logout_response()), NOW)
    assert refusal(caught) == "suomifi: SAMLResponse where a SAMLRequest was expected"


# -- the IdP's LogoutRequest --------------------------------------------------------------------
async def test_the_idps_logout_request_is_read(slo: SingleLogout, forge: Forge) -> None:
    xml = logout_request(indexes=("_session-1", " ", "_session-2"), not_after=NOW + 60)
    read = slo.read_request(from_idp(forge, "SAMLRequest", xml), NOW)
    assert read == IdPLogoutRequest(
        request_id="_idp-request-1",
        name_id="AAdzZWNyZXQx",
        session_indexes=("_session-1", "_session-2"),
        relay_state="rs-1",
        expires_at=NOW + MESSAGE_LIFETIME + 2 * SKEW,
    )
    without_relay_state = from_idp(forge, "SAMLRequest", logout_request(), relay_state=None)
    assert slo.read_request(without_relay_state, NOW).relay_state is None


@pytest.mark.parametrize("age", [MESSAGE_LIFETIME + SKEW, -(MESSAGE_LIFETIME + SKEW)])
async def test_issue_instant_at_the_edges_of_the_window_is_accepted(
    slo: SingleLogout, forge: Forge, age: int
) -> None:
    message = from_idp(forge, "SAMLRequest", logout_request(issued=NOW - age))
    assert slo.read_request(message, NOW).expires_at == NOW - age + MESSAGE_LIFETIME + 2 * SKEW


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"issued": NOW - MESSAGE_LIFETIME - SKEW - 1}, "IssueInstant outside the accepted window"),
        ({"issued": NOW + MESSAGE_LIFETIME + SKEW + 1}, "IssueInstant outside the accepted window"),
        ({"issued": None}, "IssueInstant outside the accepted window"),
        ({"not_after": NOW - SKEW - 1}, "LogoutRequest has expired (NotOnOrAfter)"),
        ({"not_after": "yesterday"}, "malformed SAML time"),
        ({"request_id": ""}, "LogoutRequest without an ID or a (clear) NameID"),
        ({"name_id": ""}, "LogoutRequest without an ID or a (clear) NameID"),
        (
            {"name_id": "<saml:NameID> </saml:NameID>"},
            "LogoutRequest without an ID or a (clear) NameID",
        ),
        ({"issuer": "https://elsewhere.test"}, "Issuer is not the IdP"),
        ({"destination": SLO_URL + "/x"}, "Destination is not the broker's SingleLogoutService"),
    ],
)
async def test_an_idps_logout_request_is_refused(
    slo: SingleLogout, forge: Forge, changes: dict[str, Any], why: str
) -> None:
    message = from_idp(forge, "SAMLRequest", logout_request(**changes))
    with pytest.raises(UpstreamLogoutError) as caught:
        slo.read_request(message, NOW)
    prefix = "LogoutRequest " if why.startswith("IssueInstant") else ""
    assert refusal(caught) == f"suomifi: {prefix}{why}"


async def test_not_on_or_after_allows_the_clock_skew(slo: SingleLogout, forge: Forge) -> None:
    message = from_idp(forge, "SAMLRequest", logout_request(not_after=NOW - SKEW))
    assert slo.read_request(message, NOW).request_id == "_idp-request-1"


# -- whose message it is ------------------------------------------------------------------------
def test_the_sender_is_the_issuer_the_message_claims(forge: Forge) -> None:
    request = from_idp(forge, "SAMLRequest", logout_request(issuer="https://a.test"))
    response = from_idp(forge, "SAMLResponse", logout_response(issuer="https://b.test"))
    assert (sender_of(request), sender_of(response)) == ("https://a.test", "https://b.test")
    assert sender_of(from_idp(forge, "SAMLRequest", "<broken")) is None
    assert sender_of(from_idp(forge, "SAMLRequest", logout_response())) is None
