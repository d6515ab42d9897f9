"""The MOCK Suomi.fi IdP, driven through real HTTP by a pysaml2 SP as the broker would.

`saml2.client.Saml2Client` plays the SP (signed AuthnRequests over HTTP-Redirect, signature
checks, decryption) and httpx plays the browser, following no redirect by itself, so each hop is
checked. The auto-submitted form is captured rather than posted: the SP needs no server.
"""

from __future__ import annotations

import base64
import gc
import html
import re
import subprocess
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from defusedxml import ElementTree

# pysaml2 7.5 imports cryptography's CFB mode from its old place; cryptography warns on import.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "CFB has been moved")
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
    from saml2.client import Saml2Client
    from saml2.metadata import entity_descriptor
    from saml2.response import StatusNoAuthnContext
    from saml2.saml import NAMEID_FORMAT_TRANSIENT, AuthnContextClassRef
    from saml2.samlp import RequestedAuthnContext
    from saml2.xmldsig import SIG_RSA_SHA256

    from mock_idps.saml_common.keys import KeyPair, load_or_create_pair
    from mock_idps.suomifi_idp import LOA2, LOA3, PersonsError, create_app
    from mock_idps.suomifi_idp.persons import DEFAULT_PERSONS_FILE, load_persons

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

HETU = "urn:oid:1.2.246.21"
TEST_HETU = "010280-952L"
MUNICIPALITY = "urn:oid:1.2.246.517.2002.2.18"
TURVAKIELTO = "urn:oid:1.2.246.517.2002.2.27"
NAME_FORMAT_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"


@dataclass
class RunningIdP:
    url: str
    clock: Clock
    sp: Saml2Client
    sp_keys: KeyPair


@pytest.fixture(autouse=True)
def _collect_leaks() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys made once per test session: RSA generation is the slow part of the setup."""
    return tmp_path_factory.mktemp("suomifi-keys")


@pytest.fixture(scope="module")
def served_idp(key_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIdP]:
    sp_keys = load_or_create_pair(key_dir, "test-sp-TEST-ONLY")
    sp_metadata = tmp_path_factory.mktemp("sp") / "sp-metadata.xml"
    transient = {"name_id_format": NAMEID_FORMAT_TRANSIENT}
    sp_metadata.write_text(str(entity_descriptor(sp_config(sp_keys, **transient))), "utf-8")
    clock = Clock()
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(url, [sp_metadata], key_dir=key_dir, clock=clock, faults_enabled=True)
    with serve(app, sock) as served:
        idp_metadata = httpx.get(served + "/metadata").text
        sp = Saml2Client(config=sp_config(sp_keys, [idp_metadata], **transient))
        yield RunningIdP(served, clock, sp, sp_keys)


@pytest.fixture
async def idp(served_idp: RunningIdP) -> AsyncIterator[RunningIdP]:
    served_idp.clock.offset = 0.0
    yield served_idp
    async with httpx.AsyncClient() as client:
        (await client.delete(served_idp.url + "/_faults")).raise_for_status()


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False, timeout=20) as client:
        yield client


def authn_request_url(
    idp: RunningIdP, *, loa: str | None = None, force_authn: bool = False, sign: bool = True
) -> tuple[str, str]:
    """A signed (HTTP-Redirect) AuthnRequest from the test SP: (request id, URL)."""
    kwargs: dict[str, Any] = {}
    if loa:
        ref = AuthnContextClassRef(text=loa)
        kwargs["requested_authn_context"] = RequestedAuthnContext(
            authn_context_class_ref=[ref], comparison="exact"
        )
    if force_authn:
        kwargs["force_authn"] = "true"
    request_id, info = idp.sp.prepare_for_authenticate(
        entityid=f"{idp.url}/idp",
        relay_state="relay-123",
        binding=BINDING_HTTP_REDIRECT,
        sign=sign,
        sigalg=SIG_RSA_SHA256 if sign else None,
        **kwargs,
    )
    location = dict(info["headers"])["Location"]
    return request_id, location


async def pick(
    browser: httpx.AsyncClient, picker: httpx.Response, method: str, hetu: str
) -> httpx.Response:
    assert picker.status_code == 200, picker.text
    action = form_action(picker.text)
    form = {
        "request": hidden(picker.text, "request"),
        "csrf_token": hidden(picker.text, "csrf_token"),
        "method": method,
        "hetu": hetu,
    }
    return await browser.post(action, data=form)


async def log_in(
    idp: RunningIdP,
    browser: httpx.AsyncClient,
    method: str = "varmennekortti",
    hetu: str = TEST_HETU,
    **request_kwargs: Any,
) -> tuple[str, str, str, str]:
    request_id, url = authn_request_url(idp, **request_kwargs)
    picker = await browser.get(url)
    acs, saml_response, relay_state = posted_response(await pick(browser, picker, method, hetu))
    return request_id, acs, saml_response, relay_state


def parse(idp: RunningIdP, saml_response: str, request_id: str) -> Any:
    return idp.sp.parse_authn_request_response(
        saml_response, BINDING_HTTP_POST, outstanding={request_id: "/"}
    )


async def test_certificate_card_login_gives_a_signed_encrypted_loa3_assertion(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    request_id, acs, saml_response, relay_state = await log_in(idp, browser)
    assert (acs, relay_state) == (ACS_URL, "relay-123")
    xml = base64.b64decode(saml_response).decode()
    assert "EncryptedAssertion" in xml and "xmlenc11#aes256-gcm" in xml
    assert "rsa-sha256" in xml and 'rsa-sha1"' not in xml
    response = parse(idp, saml_response, request_id)
    assert response.assertion is not None
    assert response.name_id.format == NAMEID_FORMAT_TRANSIENT
    ((class_ref, authorities, _instant),) = response.authn_info()
    assert class_ref == LOA3
    assert authorities == ["urn:oid:1.2.246.517.3002.110.2"]
    # pysaml2's own attribute maps turn the OIDs it knows into friendly names.
    ava = response.ava
    assert ava[HETU] == [TEST_HETU]
    assert (ava["givenName"], ava["sn"], ava["cn"]) == (["Tessa"], ["Testilä"], ["Testilä Tessa"])
    assert ava["displayName"] == ["Tessa Testilä"]
    assert ava[MUNICIPALITY] == ["091"]
    assert ava[TURVAKIELTO] == ["false"]
    assert "mail" not in ava
    (statement,) = response.assertion.attribute_statement
    assert {a.name_format for a in statement.attribute} == {NAME_FORMAT_URI}
    assert {a.name for a in statement.attribute} >= {HETU, "urn:oid:2.5.4.42", "urn:oid:2.5.4.4"}
    assert response.assertion.conditions.audience_restriction[0].audience[0].text == SP_ENTITY_ID


async def test_bank_login_gives_loa2_and_the_e_mail_of_a_person_who_has_one(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    request_id, _, saml_response, _ = await log_in(
        idp, browser, method="pankkitunnukset", hetu="010675-9981"
    )
    response = parse(idp, saml_response, request_id)
    ((class_ref, authorities, _),) = response.authn_info()
    assert (class_ref, authorities) == (LOA2, ["urn:oid:1.2.246.517.3002.110.1"])
    assert response.ava["mail"] == ["anna.testaaja@test.example.fi"]
    assert response.ava[HETU] == ["010675-9981"]


async def test_address_protection_releases_the_flag_and_no_municipality(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    request_id, _, saml_response, _ = await log_in(
        idp, browser, method="mobiilivarmenne", hetu="260991-999R"
    )
    response = parse(idp, saml_response, request_id)
    assert response.ava[TURVAKIELTO] == ["true"]
    assert not [name for name in response.ava if name.startswith("urn:oid:1.2.246.517.2002.2.1")]
    assert response.authn_info()[0][:2] == (LOA3, ["urn:oid:1.2.246.517.3002.110.3"])


async def test_new_century_sign_person(idp: RunningIdP, browser: httpx.AsyncClient) -> None:
    request_id, _, saml_response, _ = await log_in(
        idp, browser, method="testitunnistaja", hetu="010594Y9032"
    )
    response = parse(idp, saml_response, request_id)
    assert response.ava[HETU] == ["010594Y9032"]
    assert response.authn_info()[0][1] == ["urn:oid:1.2.246.517.3002.110.999"]


async def test_loa3_requested_and_bank_chosen_is_an_error_status(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    request_id, _, saml_response, relay_state = await log_in(
        idp, browser, method="pankkitunnukset", loa=LOA3
    )
    assert relay_state == "relay-123"
    with pytest.raises(StatusNoAuthnContext):
        parse(idp, saml_response, request_id)


async def test_loa3_requested_and_card_chosen_is_fine(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    request_id, _, saml_response, _ = await log_in(idp, browser, loa=LOA3)
    assert parse(idp, saml_response, request_id).authn_info()[0][0] == LOA3


async def test_unsigned_authn_request_is_refused_without_a_response(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    _, url = authn_request_url(idp, sign=False)
    page = await browser.get(url)
    assert page.status_code == 400
    assert "SAMLResponse" not in page.text


async def test_wrongly_signed_authn_request_is_refused(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    _, url = authn_request_url(idp)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["RelayState"] = "tampered"  # covered by the redirect-binding signature
    page = await browser.get(f"{idp.url}/sso?{urlencode(query)}")
    assert page.status_code == 400
    assert "SAMLResponse" not in page.text


async def test_picker_refuses_a_post_without_the_csrf_token(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    _, url = authn_request_url(idp)
    picker = await browser.get(url)
    form = {"request": hidden(picker.text, "request"), "method": "pankkitunnukset"}
    page = await browser.post(f"{idp.url}/login", data=form | {"hetu": TEST_HETU})
    assert page.status_code == 400
    assert "SAMLResponse" not in page.text


async def test_idp_session_skips_the_picker_unless_force_authn(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    await log_in(idp, browser, method="mobiilivarmenne")
    request_id, url = authn_request_url(idp)
    _, saml_response, _ = posted_response(await browser.get(url))
    response = parse(idp, saml_response, request_id)
    assert response.authn_info()[0][1] == ["urn:oid:1.2.246.517.3002.110.3"]
    _, url = authn_request_url(idp, force_authn=True)
    page = await browser.get(url)
    assert 'name="csrf_token"' in page.text and "SAMLResponse" not in page.text


async def test_picker_speaks_swedish_and_english(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    _, url = authn_request_url(idp)
    picker = await browser.get(url)
    links = dict(re.findall(r'<a href="([^"]+)" lang="(\w+)"', picker.text))
    by_lang = {lang: html.unescape(href) for href, lang in links.items()}
    swedish = await browser.get(by_lang["sv"])
    assert "Bankkoder" in swedish.text and 'lang="sv"' in swedish.text
    english = await browser.get(by_lang["en"])
    assert "Mobile certificate" in english.text


REFUSED_FAULTS = [
    "unsigned",
    "wrong_audience",
    "expired",
    "not_yet_valid",
    "wrong_in_response_to",
    "wrong_issuer",
    "signed_by_other_key",
]


@pytest.mark.parametrize("fault", REFUSED_FAULTS)
async def test_pysaml2_refuses_each_faulty_response(
    idp: RunningIdP, browser: httpx.AsyncClient, fault: str
) -> None:
    armed = await browser.post(f"{idp.url}/_faults", json={"fault": fault, "count": 1})
    assert armed.json() == {"fault": fault, "remaining": 1}
    request_id, _, saml_response, _ = await log_in(idp, browser)
    try:
        accepted = parse(idp, saml_response, request_id)
    except Exception:  # pysaml2's errors share no base class
        accepted = None
    assert accepted is None
    # and the fault is used up: the next login is accepted
    request_id, _, saml_response, _ = await log_in(idp, browser, force_authn=True)
    assert parse(idp, saml_response, request_id).ava[HETU] == [TEST_HETU]


async def test_wrong_destination_fault_gives_pysaml2_an_assertionless_response(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    """pysaml2 7.5 logs a wrong Destination and stops, but `Entity._parse_response` drops
    `verify()`'s None: the caller gets an AuthnResponse *without an assertion* instead of an
    error. An SP must treat `assertion is None` as a refusal."""
    await browser.post(f"{idp.url}/_faults", json={"fault": "wrong_destination"})
    request_id, acs, saml_response, _ = await log_in(idp, browser)
    assert acs == ACS_URL  # the browser still goes to the right place
    response = parse(idp, saml_response, request_id)
    assert response.response.destination == "https://elsewhere.invalid/acs"
    assert response.assertion is None


async def test_unencrypted_fault_sends_the_assertion_in_clear(
    idp: RunningIdP, browser: httpx.AsyncClient
) -> None:
    await browser.post(f"{idp.url}/_faults", json={"fault": "unencrypted"})
    request_id, _, saml_response, _ = await log_in(idp, browser)
    xml = base64.b64decode(saml_response).decode()
    assert "EncryptedAssertion" not in xml and TEST_HETU in xml
    assert parse(idp, saml_response, request_id).ava[HETU] == [TEST_HETU]


async def test_fault_requests_are_checked(idp: RunningIdP, browser: httpx.AsyncClient) -> None:
    bad = await browser.post(f"{idp.url}/_faults", json={"fault": "nonsense"})
    assert bad.status_code == 400
    assert (await browser.post(f"{idp.url}/_reload-sp-metadata")).json() == {"reloaded": 1}


def test_key_dir_keeps_the_idp_certificate(tmp_path: Path) -> None:
    first = create_app("http://127.0.0.1:9", key_dir=tmp_path).state.idp.keys.signing
    second = create_app("http://127.0.0.1:9", key_dir=tmp_path).state.idp.keys.signing
    assert first.cert_pem() == second.cert_pem()
    assert first.key_file.stat().st_mode & 0o777 == 0o600


def test_the_committed_persons_are_test_persons() -> None:
    persons = load_persons(DEFAULT_PERSONS_FILE)
    assert {"010280-952L", "260991-999R", "020365-999P", "010516B903X"} <= set(persons)
    assert persons["010280-952L"].family_name == "Testilä"


def test_a_real_looking_identity_code_stops_start_up(tmp_path: Path) -> None:
    path = tmp_path / "persons.yaml"
    path.write_text("persons:\n  - {hetu: 010280-123D, given_name: A, family_name: B}\n")
    with pytest.raises(PersonsError, match="hetu"):
        load_persons(path)


# -- the metadata's signature and the signing-key rollover -------------------------------------

MD = "urn:oasis:names:tc:SAML:2.0:metadata"


def verifies(xml: str, certificate: Path) -> bool:
    """xmlsec1 on the metadata's root signature, the key from `certificate` alone."""
    command = [
        "xmlsec1",
        "--verify",
        "--enabled-key-data",
        "raw-x509-cert",
        "--pubkey-cert-pem",
        str(certificate),
        "--id-attr:ID",
        f"{MD}:EntityDescriptor",
        "-",
    ]
    return (
        subprocess.run(command, input=xml.encode(), capture_output=True, check=False).returncode
        == 0
    )


def signing_certificates(xml: str) -> list[str]:
    root = ElementTree.fromstring(xml)
    found = root.iterfind(
        f"{{{MD}}}IDPSSODescriptor/{{{MD}}}KeyDescriptor[@use='signing']"
        "//{http://www.w3.org/2000/09/xmldsig#}X509Certificate"
    )
    return ["".join((c.text or "").split()) for c in found]


@pytest.fixture
def rolling_idp(tmp_path: Path, key_dir: Path) -> Iterator[RunningIdP]:
    """A mock of its own (its keys roll), trusting the test SP."""
    sp_keys = load_or_create_pair(key_dir, "test-sp-TEST-ONLY")
    sp_metadata = tmp_path / "sp-metadata.xml"
    transient = {"name_id_format": NAMEID_FORMAT_TRANSIENT}
    sp_metadata.write_text(str(entity_descriptor(sp_config(sp_keys, **transient))), "utf-8")
    sock, clock = bound_socket(), Clock()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(url, [sp_metadata], key_dir=tmp_path / "idp", clock=clock, faults_enabled=True)
    with serve(app, sock) as served:
        yield RunningIdP(
            served, clock, Saml2Client(config=sp_config(sp_keys, **transient)), sp_keys
        )


def trusting_current_metadata(idp: RunningIdP, xml: str) -> RunningIdP:
    transient = {"name_id_format": NAMEID_FORMAT_TRANSIENT}
    sp = Saml2Client(config=sp_config(idp.sp_keys, [xml], **transient))
    return RunningIdP(idp.url, idp.clock, sp, idp.sp_keys)


async def test_metadata_is_signed_by_the_metadata_key_and_valid_for_a_day(
    rolling_idp: RunningIdP, browser: httpx.AsyncClient, tmp_path: Path
) -> None:
    xml = (await browser.get(rolling_idp.url + "/metadata")).text
    keys = tmp_path / "idp"
    assert verifies(xml, keys / "suomifi-mock-idp-metadata-TEST-ONLY.crt")
    assert not verifies(xml, keys / "suomifi-mock-idp-TEST-ONLY.crt")  # not the message key
    until = ElementTree.fromstring(xml).get("validUntil")
    assert until is not None and until.startswith(
        time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    )


async def test_a_key_rollover_publishes_switches_and_retires(
    rolling_idp: RunningIdP, browser: httpx.AsyncClient, tmp_path: Path
) -> None:
    old = load_or_create_pair(tmp_path / "idp", "suomifi-mock-idp-TEST-ONLY").cert_base64()

    async def step(name: str) -> tuple[list[str], RunningIdP]:
        answer = await browser.post(rolling_idp.url + "/_key-rollover", json={"step": name})
        assert answer.status_code == 200, answer.text
        xml = (await browser.get(rolling_idp.url + "/metadata")).text
        assert verifies(xml, tmp_path / "idp" / "suomifi-mock-idp-metadata-TEST-ONLY.crt")
        return signing_certificates(xml), trusting_current_metadata(rolling_idp, xml)

    assert (
        await browser.post(rolling_idp.url + "/_key-rollover", json={"step": "switch"})
    ).status_code == 409
    published, sp = await step("publish")
    assert published[0] == old and len(published) == 2
    new = published[1]
    published, sp = await step("switch")
    assert published == [old, new]
    request_id, _, saml_response, _ = await log_in(sp, browser)
    assert new in "".join(base64.b64decode(saml_response).decode().split())  # KeyInfo: the new
    assert parse(sp, saml_response, request_id).ava[HETU] == [TEST_HETU]
    published, sp = await step("retire")
    assert published == [new]
    await browser.post(f"{sp.url}/_faults", json={"fault": "signed_by_retired_key"})
    request_id, _, saml_response, _ = await log_in(sp, browser, force_authn=True)
    with pytest.raises(Exception):  # noqa: B017 - pysaml2's errors share no base class
        parse(sp, saml_response, request_id)
