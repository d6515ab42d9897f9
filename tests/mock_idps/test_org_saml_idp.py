"""The MOCK organisation SAML IdPs, driven through real HTTP by a pysaml2 SP as the broker would.

`saml2.client.Saml2Client` plays the SP (signed AuthnRequests over HTTP-Redirect, signature
checks, decryption) for all three organisations at once, and httpx plays the browser, following
no redirect by itself. The auto-submitted form is captured rather than posted.
"""

from __future__ import annotations

import base64
import gc
import re
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from defusedxml import ElementTree

with warnings.catch_warnings():  # pysaml2 7.5 imports cryptography's CFB mode from its old place
    warnings.filterwarnings("ignore", "CFB has been moved")
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
    from saml2.client import Saml2Client
    from saml2.metadata import entity_descriptor
    from saml2.response import StatusAuthnFailed, StatusError, StatusNoAuthnContext
    from saml2.saml import (
        NAMEID_FORMAT_EMAILADDRESS,
        NAMEID_FORMAT_PERSISTENT,
        NAMEID_FORMAT_TRANSIENT,
        AuthnContextClassRef,
    )
    from saml2.samlp import RequestedAuthnContext, response_from_string
    from saml2.xmldsig import SIG_RSA_SHA256

    from mock_idps.org_saml_idp import ConfigError, create_app
    from mock_idps.org_saml_idp.config import DEFAULT_USERS_FILE, load_organisations
    from mock_idps.saml_common.keys import load_or_create_pair

from mock_idps.oidc_idp.hetu import is_test_hetu
from tests.mock_idps.saml_sp import (
    ACS_URL,
    SP_ENTITY_ID,
    Clock,
    form_action,
    hidden,
    posted_response,
    sp_config,
)
from tests.servers import bound_socket, serve

# pysaml2 leaves the temporary files it hands to xmlsec1 open when a signature check fails; the
# garbage collector then reports them (collected in `_collect_leaks`, inside the test).
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <_io.FileIO name='/tmp/tmp"
    r":pytest.PytestUnraisableExceptionWarning"
)

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
ORGS = ("oys", "tyks", "soite")
PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
LOA3 = "http://ftn.ficora.fi/2017/loa3"
HETU = "urn:oid:1.2.246.21"
CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
NAME_FORMAT_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
NAME_FORMAT_UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
USERS = {
    "oys": ("sanna.makela", "testi1234"),
    "tyks": ("anna.lindholm", "testi1234"),
    "soite": ("elin.sundqvist", "testi1234"),
}


@dataclass
class RunningIdP:
    url: str
    clock: Clock
    sp: Saml2Client

    def entity_id(self, org: str) -> str:
        return f"{self.url}/{org}/idp"


@pytest.fixture(autouse=True)
def _collect_leaks() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys made once per test session: RSA generation is the slow part of the setup."""
    return tmp_path_factory.mktemp("org-saml-keys")


@pytest.fixture(scope="module")
def served_idp(key_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIdP]:
    sp_keys = load_or_create_pair(key_dir, "test-sp-TEST-ONLY")
    sp_metadata = tmp_path_factory.mktemp("sp") / "sp-metadata.xml"
    sp_metadata.write_text(str(entity_descriptor(sp_config(sp_keys))), encoding="utf-8")
    clock = Clock()
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(url, [sp_metadata], key_dir=key_dir, clock=clock, faults_enabled=True)
    with serve(app, sock) as served:
        metadata = [httpx.get(f"{served}/{org}/metadata").text for org in ORGS]
        # Either signature will do: the tests look at the XML for which one each IdP makes.
        either = {
            "want_response_signed": False,
            "want_assertions_signed": False,
            "want_assertions_or_response_signed": True,
        }
        sp = Saml2Client(config=sp_config(sp_keys, metadata, **either))
        yield RunningIdP(served, clock, sp)


@pytest.fixture
async def idp(served_idp: RunningIdP) -> AsyncIterator[RunningIdP]:
    served_idp.clock.offset = 0.0
    yield served_idp
    async with httpx.AsyncClient() as client:
        (await client.delete(served_idp.url + "/_faults")).raise_for_status()


def authn_request_url(
    idp: RunningIdP,
    org: str,
    *,
    name_id_format: str | None = NAMEID_FORMAT_PERSISTENT,
    classes: tuple[str, ...] = (),
    force_authn: bool = False,
    passive: bool = False,
    sign: bool = True,
) -> tuple[str, str]:
    """A signed (HTTP-Redirect) AuthnRequest from the test SP: (request id, URL)."""
    kwargs: dict[str, Any] = {}
    if classes:
        refs = [AuthnContextClassRef(text=c) for c in classes]
        kwargs["requested_authn_context"] = RequestedAuthnContext(
            authn_context_class_ref=refs, comparison="exact"
        )
    if force_authn:
        kwargs["force_authn"] = "true"
    if passive:
        kwargs["is_passive"] = "true"
    request_id, info = idp.sp.prepare_for_authenticate(
        entityid=idp.entity_id(org),
        relay_state="relay-123",
        binding=BINDING_HTTP_REDIRECT,
        sign=sign,
        sigalg=SIG_RSA_SHA256 if sign else None,
        nameid_format=name_id_format,
        **kwargs,
    )
    return request_id, dict(info["headers"])["Location"]


async def submit_login(
    browser: httpx.AsyncClient, form_page: httpx.Response, username: str, password: str
) -> httpx.Response:
    assert form_page.status_code == 200, form_page.text
    assert 'name="password"' in form_page.text
    form = {
        "request": hidden(form_page.text, "request"),
        "csrf_token": hidden(form_page.text, "csrf_token"),
        "username": username,
        "password": password,
    }
    return await browser.post(form_action(form_page.text), data=form)


async def log_in(
    idp: RunningIdP, browser: httpx.AsyncClient, org: str, **request_kwargs: Any
) -> tuple[str, str]:
    """(request id, SAMLResponse) after logging in at the organisation's form."""
    request_id, url = authn_request_url(idp, org, **request_kwargs)
    answer = await submit_login(browser, await browser.get(url), *USERS[org])
    acs, saml_response, relay_state = posted_response(answer)
    assert (acs, relay_state) == (ACS_URL, "relay-123")
    return request_id, saml_response


def parse(idp: RunningIdP, saml_response: str, request_id: str) -> Any:
    return idp.sp.parse_authn_request_response(
        saml_response, BINDING_HTTP_POST, outstanding={request_id: "/"}
    )


def envelope(saml_response: str) -> Any:
    """The Response as sent (before any decryption)."""
    return response_from_string(base64.b64decode(saml_response))


def attributes(response: Any) -> dict[str, tuple[str | None, list[str]]]:
    """Attribute Name as sent -> (NameFormat, values)."""
    (statement,) = response.assertion.attribute_statement
    return {
        a.name: (a.name_format, [v.text for v in a.attribute_value]) for a in statement.attribute
    }


async def test_each_organisation_publishes_its_own_signed_metadata(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    certificates = set()
    for org in ORGS:
        response = await browser.get(f"{idp.url}/{org}/metadata")
        assert response.headers["content-type"].startswith("application/samlmetadata+xml")
        xml = response.text
        assert f'entityID="{idp.entity_id(org)}"' in xml
        assert f'Location="{idp.url}/{org}/sso"' in xml
        assert NAMEID_FORMAT_PERSISTENT in xml and "SignatureValue" in xml
        assert "SingleLogoutService" not in xml  # no SLO yet, so none is offered
        root = ElementTree.fromstring(xml)
        (signing,) = root.iterfind(f".//{MD}KeyDescriptor[@use='signing']//{DS}X509Certificate")
        certificates.add(signing.text)
    assert len(certificates) == len(ORGS)  # one key per organisation


async def test_oys_sends_ad_fs_claims_and_the_identity_code_in_a_signed_assertion(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    request_id, saml_response = await log_in(idp, browser, "oys")
    sent = envelope(saml_response)
    assert sent.signature is None and sent.assertion[0].signature is not None
    assert not sent.encrypted_assertion
    response = parse(idp, saml_response, request_id)
    name_id = response.name_id
    assert (name_id.format, name_id.text) == (NAMEID_FORMAT_PERSISTENT, "80zTsqT_4F_15OiPp-hd5PPc")
    assert name_id.sp_name_qualifier == SP_ENTITY_ID
    ((class_ref, authorities, _instant),) = response.authn_info()
    assert (class_ref, authorities) == (PPT, [])
    found = attributes(response)
    assert found[CLAIMS + "upn"] == (NAME_FORMAT_UNSPECIFIED, ["sanna.makela@ad.example.pohde.fi"])
    assert found[CLAIMS + "givenname"][1] == ["Sanna"]
    assert found[CLAIMS + "name"][1] == ["Sanna Mäkelä"]
    assert found["http://schemas.example.pohde.fi/claims/title"][1] == ["Kätilö"]
    assert found[HETU] == (NAME_FORMAT_URI, ["220984-947N"])


async def test_tyks_signs_the_response_and_sends_no_identity_code(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    request_id, saml_response = await log_in(idp, browser, "tyks")
    sent = envelope(saml_response)
    assert sent.signature is not None and sent.assertion[0].signature is None
    response = parse(idp, saml_response, request_id)
    found = attributes(response)
    assert HETU not in found
    assert found[CLAIMS + "emailaddress"][1] == ["anna.lindholm@example.varha.fi"]
    assert found["http://schemas.example.varha.fi/claims/employeeid"][1] == ["500101"]
    assert found[CLAIMS + "upn"][1] == ["anna.lindholm@example.varha.fi"]  # upn: the e-mail


async def test_soite_encrypts_a_signed_assertion_with_urn_oid_names(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    request_id, saml_response = await log_in(idp, browser, "soite")
    xml = base64.b64decode(saml_response).decode()
    assert "EncryptedAssertion" in xml and "xmlenc11#aes256-gcm" in xml
    assert "Sundqvist" not in xml and "070888-926J" not in xml
    response = parse(idp, saml_response, request_id)
    assert response.assertion.signature is not None
    found = attributes(response)
    assert found[HETU] == (NAME_FORMAT_URI, ["070888-926J"])
    assert found["urn:oid:2.5.4.12"][1] == ["Sairaanhoitaja"]
    assert found["urn:oid:2.5.4.11"][1] == ["Päivystys"]
    assert response.ava["givenName"] == ["Elin"]  # the friendly names pysaml2 knows


async def test_wrong_password_shows_the_form_again_and_sends_nothing(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    _, url = authn_request_url(idp, "oys")
    again = await submit_login(browser, await browser.get(url), "sanna.makela", "wrong")
    assert again.status_code == 200
    assert 'role="alert"' in again.text and 'value="sanna.makela"' in again.text
    assert "SAMLResponse" not in again.text
    unknown = await submit_login(browser, again, "nobody", "testi1234")
    assert "SAMLResponse" not in unknown.text and 'role="alert"' in unknown.text
    _, answer, _ = posted_response(await submit_login(browser, unknown, *USERS["oys"]))
    assert answer


async def test_idp_session_answers_at_once_unless_force_authn(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    idp.clock.offset = -120  # the first login two minutes ago
    request_id, saml_response = await log_in(idp, browser, "oys")
    logged_in_at = parse(idp, saml_response, request_id).authn_info()[0][2]
    idp.clock.offset = 0
    request_id, url = authn_request_url(idp, "oys")
    _, saml_response, _ = posted_response(await browser.get(url))  # no form
    assert parse(idp, saml_response, request_id).authn_info()[0][2] == logged_in_at
    request_id, url = authn_request_url(idp, "oys", force_authn=True)
    form_page = await browser.get(url)
    assert 'name="password"' in form_page.text and "SAMLResponse" not in form_page.text
    _, saml_response, _ = posted_response(await submit_login(browser, form_page, *USERS["oys"]))
    assert parse(idp, saml_response, request_id).authn_info()[0][2] > logged_in_at  # ISO 8601


async def test_each_organisation_has_its_own_session(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    await log_in(idp, browser, "oys")
    _, url = authn_request_url(idp, "tyks")
    assert 'name="password"' in (await browser.get(url)).text
    for cookie in browser.cookies.jar:
        if cookie.name == "org_saml_mock_session":
            assert cookie.path == "/oys"


async def test_passive_request_without_a_session_gets_no_passive(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    request_id, url = authn_request_url(idp, "tyks", passive=True)
    _, saml_response, _ = posted_response(await browser.get(url))
    with pytest.raises(StatusError, match="NoPassive"):
        parse(idp, saml_response, request_id)


async def test_transient_name_ids_differ_and_unknown_formats_are_refused(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    request_id, saml_response = await log_in(idp, browser, "tyks")
    persistent = parse(idp, saml_response, request_id).name_id.text
    seen = set()
    for _ in range(2):
        request_id, url = authn_request_url(idp, "tyks", name_id_format=NAMEID_FORMAT_TRANSIENT)
        _, saml_response, _ = posted_response(await browser.get(url))
        name_id = parse(idp, saml_response, request_id).name_id
        assert name_id.format == NAMEID_FORMAT_TRANSIENT
        seen.add(name_id.text)
    assert len(seen) == 2 and persistent not in seen
    request_id, url = authn_request_url(idp, "tyks", name_id_format=None)  # default: persistent
    _, saml_response, _ = posted_response(await browser.get(url))
    assert parse(idp, saml_response, request_id).name_id.text == persistent
    request_id, url = authn_request_url(idp, "tyks", name_id_format=NAMEID_FORMAT_EMAILADDRESS)
    _, saml_response, _ = posted_response(await browser.get(url))
    with pytest.raises(StatusError, match="InvalidNameIDPolicy"):
        parse(idp, saml_response, request_id)


async def test_a_password_meets_password_protected_transport_only(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    request_id, saml_response = await log_in(idp, browser, "oys", classes=(PPT,))
    assert parse(idp, saml_response, request_id).authn_info()[0][0] == PPT
    request_id, url = authn_request_url(idp, "oys", classes=(LOA3,))
    _, saml_response, _ = posted_response(await browser.get(url))  # refused before any form
    with pytest.raises(StatusNoAuthnContext):
        parse(idp, saml_response, request_id)


async def test_unsigned_authn_request_and_unknown_organisation_get_no_response(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    _, url = authn_request_url(idp, "soite", sign=False)
    page = await browser.get(url)
    assert page.status_code == 400 and "SAMLResponse" not in page.text
    _, url = authn_request_url(idp, "oys")
    elsewhere = await browser.get(url.replace("/oys/sso", "/hus/sso"))
    assert elsewhere.status_code == 400 and "SAMLResponse" not in elsewhere.text
    misdirected = await browser.get(url.replace("/oys/sso", "/tyks/sso"))  # OYS's request
    assert misdirected.status_code == 400 and "SAMLResponse" not in misdirected.text


async def test_login_form_speaks_swedish_and_english(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    _, url = authn_request_url(idp, "soite")
    form_page = await browser.get(url)
    links = dict(re.findall(r'<a href="([^"]+)" lang="(\w+)"', form_page.text))
    by_lang = {lang: href.replace("&amp;", "&") for href, lang in links.items()}
    swedish = await browser.get(by_lang["sv"])
    assert "Lösenord" in swedish.text and 'lang="sv"' in swedish.text
    english = await browser.get(by_lang["en"])
    assert "Password" in english.text and "Soite" in english.text


REFUSED_FAULTS = ["unsigned", "wrong_audience", "expired", "wrong_issuer", "signed_by_other_key"]


@pytest.mark.parametrize("fault", REFUSED_FAULTS)
async def test_pysaml2_refuses_each_faulty_response(
    idp: RunningIdP, browser: httpx.AsyncClient, fault: str
) -> None:
    armed = await browser.post(f"{idp.url}/_faults", json={"org": "oys", "fault": fault})
    assert armed.json() == {"oys": {"fault": fault, "remaining": 1}}
    request_id, saml_response = await log_in(idp, browser, "oys")
    try:
        accepted = parse(idp, saml_response, request_id)
    except Exception:  # pysaml2's errors share no base class
        accepted = None
    assert accepted is None or accepted.assertion is None
    request_id, saml_response = await log_in(idp, browser, "oys", force_authn=True)
    assert parse(idp, saml_response, request_id).assertion is not None  # used up


async def test_faults_belong_to_one_organisation(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    await browser.post(f"{idp.url}/_faults", json={"org": "tyks", "fault": "authn_failed"})
    request_id, saml_response = await log_in(idp, browser, "soite")
    assert parse(idp, saml_response, request_id).assertion is not None
    request_id, saml_response = await log_in(idp, browser, "tyks")
    with pytest.raises(StatusAuthnFailed):
        parse(idp, saml_response, request_id)
    bad = await browser.post(f"{idp.url}/_faults", json={"org": "hus", "fault": "expired"})
    assert bad.status_code == 400
    assert (await browser.post(f"{idp.url}/_reload-sp-metadata")).json() == {"reloaded": 1}


async def test_index_lists_the_organisations_and_their_users(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    page = await browser.get(idp.url + "/")
    for org in ORGS:
        assert idp.entity_id(org) in page.text
    assert "elin.sundqvist" in page.text and "MOCK" in page.text


def test_key_dir_keeps_each_organisations_certificate(tmp_path: Path) -> None:
    def certificates() -> dict[str, str]:
        entities = create_app("http://127.0.0.1:9", key_dir=tmp_path).state.idp.entities
        return {org: e.keys.signing.cert_pem() for org, e in entities.items()}

    first = certificates()
    assert first == certificates() and len(set(first.values())) == len(ORGS)
    assert (tmp_path / "oys-mock-saml-idp-TEST-ONLY.key").stat().st_mode & 0o777 == 0o600


def test_the_committed_users_are_fake() -> None:
    organisations = load_organisations(DEFAULT_USERS_FILE)
    assert set(organisations) == set(ORGS)
    for org in organisations.values():
        for user in org.users:
            assert user.hetu is None or is_test_hetu(user.hetu)
            assert user.email is None or "@example." in user.email
    assert not [u for u in organisations["tyks"].users if u.hetu]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ("hetu: 220984-947N", "hetu: 220984-123N"),
        ("sign: assertion", "sign: nothing"),
        ("title: Kätilö", "shoe_size: '42'"),
        ("http://schemas.example.pohde.fi/claims/title: title", "x: shoe_size"),
        ("persistent_id: J9QI55mOdp4RDokFs9LNNFOf", "persistent_id: 80zTsqT_4F_15OiPp-hd5PPc"),
    ],
)
def test_a_bad_users_file_stops_start_up(tmp_path: Path, change: str, key: str) -> None:
    path = tmp_path / "users.yaml"
    text = DEFAULT_USERS_FILE.read_text(encoding="utf-8")
    assert change in text
    path.write_text(text.replace(change, key, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_organisations(path)
