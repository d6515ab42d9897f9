"""The SAML connector against the real MOCK Suomi.fi IdP, through real HTTP.

`SAMLConnector.start()` makes the redirect; httpx plays the browser at the mock (its picker form:
method + test person); the auto-submitted form is captured, not posted, and handed to `finish()`.
The mock trusts the broker's SP metadata from a file made by `sp_metadata_xml`.
"""

from __future__ import annotations

import base64
import gc
import html
import json
import re
import time
import warnings
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from defusedxml import ElementTree

from broker.clock import FrozenClock
from broker.errors import (
    TransactionError,
    UpstreamRequirementError,
    UpstreamResponseError,
    UpstreamUnavailableError,
)
from broker.upstream.login_request import UpstreamLogin
from broker.upstream.registry import IdP, Names, SAMLUpstream
from tests.upstream.saml.replays import Replays

# pysaml2 7.5 imports cryptography's CFB mode from its old place; cryptography warns on import.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "CFB has been moved")
    from broker.upstream.saml.connector import SAMLConnector
    from broker.upstream.saml.crypto import CRYPTO_BACKENDS
    from broker.upstream.saml.sp import (
        Contact,
        Organisation,
        ServiceProvider,
        sp_metadata_xml,
    )
    from broker.upstream.saml.sp_keys import ServiceProviderKeys
    from mock_idps.suomifi_idp import LOA2, LOA3, create_app

from tests.servers import bound_socket, serve

# pysaml2 leaves the temporary files it hands to xmlsec1 open when a signature check fails; the
# garbage collector then reports them (collected in `_collect_leaks`, inside the test).
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <_io.FileIO name='/tmp/tmp"
    r":pytest.PytestUnraisableExceptionWarning"
)

SP_ENTITY_ID = "http://127.0.0.1:9/saml/metadata"
ACS_URL = "http://127.0.0.1:9/upstream/saml/acs"  # read from the form, never posted to
SLO_URL = "http://127.0.0.1:9/upstream/saml/slo"
RELAY_STATE = "opaque-signed-handle"
HETU = "urn:oid:1.2.246.21"
GIVEN_NAME = "urn:oid:2.5.4.42"
MAIL = "urn:oid:0.9.2342.19200300.100.1.3"
TEST_HETU = "010280-952L"
CARD, BANK = "urn:oid:1.2.246.517.3002.110.2", "urn:oid:1.2.246.517.3002.110.1"
MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"


@dataclass
class MockIdP:
    url: str
    entity_id: str


@pytest.fixture(autouse=True)
def _collect_leaks() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture(scope="session", params=CRYPTO_BACKENDS)
def sp(saml_sp_keys: Path, request: pytest.FixtureRequest) -> ServiceProvider:
    """The broker's SP (keys made once per session: RSA 3072 generation is the slow part), once
    per crypto backend: every test here runs on both."""
    return ServiceProvider.load(SP_ENTITY_ID, saml_sp_keys, request.param)


@pytest.fixture(scope="session")
def sp_metadata(sp: ServiceProvider) -> bytes:
    return sp_metadata_xml(
        SP_ENTITY_ID,
        ACS_URL,
        SLO_URL,
        sp.keys,
        [HETU, GIVEN_NAME, MAIL],
        organisation=Organisation({"fi": "Testi", "en": "Test"}, {"fi": "https://test.example"}),
        contacts=[Contact("technical", "tuki@test.example", given_name="Tuki")],
        crypto_backend=sp.crypto_backend,
    )


@pytest.fixture(scope="module")
def mock_idp(sp_metadata: bytes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockIdP]:
    metadata_file = tmp_path_factory.mktemp("sp-metadata") / "sp.xml"
    metadata_file.write_bytes(sp_metadata)
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    key_dir = tmp_path_factory.mktemp("suomifi-keys")
    app = create_app(url, [metadata_file], key_dir=key_dir, faults_enabled=True)
    with serve(app, sock) as served:
        yield MockIdP(served, served + "/idp")


@pytest.fixture
async def browser(mock_idp: MockIdP) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False, timeout=20) as client:
        yield client
        (await client.delete(mock_idp.url + "/_faults")).raise_for_status()


@pytest.fixture(scope="module")
def clock() -> FrozenClock:
    """Shared by the module's connector, whose pysaml2 client is slow to build (it loads the
    RSA key twice); pysaml2 checks its own time windows with the system clock anyway."""
    return FrozenClock(time.time())


@pytest.fixture(scope="module")
def replays() -> Replays:
    return Replays()


def suomifi(mock_idp: MockIdP, **saml: Any) -> IdP:
    settings = {"metadata_url": mock_idp.url + "/metadata", "entity_id": mock_idp.entity_id}
    return IdP(
        id="suomifi",
        names=Names(fi="Suomi.fi-tunnistus", sv="Suomi.fi-identifikation", en="Suomi.fi"),
        route="personal",
        protocol="saml",
        saml=SAMLUpstream(**{"want_response_signed": True, **settings, **saml}),
        subject=HETU,
    )


@pytest.fixture(scope="module")
def connector(
    mock_idp: MockIdP, sp: ServiceProvider, clock: FrozenClock, replays: Replays
) -> SAMLConnector:
    return SAMLConnector(suomifi(mock_idp), sp, clock, acs_url=ACS_URL, remember_assertion=replays)


# -- the browser -------------------------------------------------------------------------------


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} in the page"
    return html.unescape(match.group(1))


async def pick(
    browser: httpx.AsyncClient, picker: httpx.Response, method: str, hetu: str
) -> httpx.Response:
    assert picker.status_code == 200, picker.text
    action = re.search(r'<form method="post" action="([^"]+)"', picker.text)
    assert action
    form = {
        "request": hidden(picker.text, "request"),
        "csrf_token": hidden(picker.text, "csrf_token"),
        "method": method,
        "hetu": hetu,
    }
    return await browser.post(html.unescape(action[1]), data=form)


def posted_form(page: httpx.Response) -> dict[str, str]:
    """SAMLResponse and RelayState from the auto-submitting form (which goes to the ACS)."""
    assert page.status_code == 200, page.text
    action = re.search(r'<form id="saml-post" method="post" action="([^"]+)"', page.text)
    assert action and html.unescape(action[1]) == ACS_URL
    return {
        "SAMLResponse": hidden(page.text, "SAMLResponse"),
        "RelayState": hidden(page.text, "RelayState"),
    }


async def log_in(
    connector: SAMLConnector,
    browser: httpx.AsyncClient,
    method: str = "varmennekortti",
    hetu: str = TEST_HETU,
    **start: Any,
) -> tuple[dict[str, Any], dict[str, str]]:
    """(saved, ACS form) of one login at the mock."""
    redirect = await connector.start(
        UpstreamLogin(redirect_uri=ACS_URL, relay_state=RELAY_STATE, **start)
    )
    picker = await browser.get(redirect.url)
    form = posted_form(await pick(browser, picker, method, hetu))
    return json.loads(json.dumps(redirect.saved)), form  # as the store would give it back


async def arm(browser: httpx.AsyncClient, mock_idp: MockIdP, fault: str) -> None:
    armed = await browser.post(f"{mock_idp.url}/_faults", json={"fault": fault, "count": 1})
    assert armed.json() == {"fault": fault, "remaining": 1}


def authn_request(url: str) -> tuple[dict[str, str], str]:
    """The redirect's query and its inflated AuthnRequest XML."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15).decode()
    return query, xml


# -- the SP side -------------------------------------------------------------------------------


def test_sp_metadata_is_signed_and_says_what_suomifi_needs(sp_metadata: bytes) -> None:
    root = ElementTree.fromstring(sp_metadata)
    assert root.get("entityID") == SP_ENTITY_ID
    assert b"xmldsig-more#rsa-sha256" in sp_metadata and b"#rsa-sha1" not in sp_metadata
    # pysaml2's algsupport list is replaced by ours (by the algorithm URIs: the bytes "md5" may
    # turn up by chance in a base64 signature or certificate)
    assert b"#md5" not in sp_metadata and b"#rsa-md5" not in sp_metadata
    (sso,) = root.iter(f"{MD}SPSSODescriptor")
    assert (sso.get("AuthnRequestsSigned"), sso.get("WantAssertionsSigned")) == ("true", "true")
    assert sorted(k.get("use") for k in sso.iter(f"{MD}KeyDescriptor")) == [
        "encryption",
        "signing",
    ]
    (acs,) = sso.iter(f"{MD}AssertionConsumerService")
    assert acs.get("Location") == ACS_URL
    assert acs.get("Binding", "").endswith("HTTP-POST")
    assert {s.get("Location") for s in sso.iter(f"{MD}SingleLogoutService")} == {SLO_URL}
    requested = list(sso.iter(f"{MD}RequestedAttribute"))
    assert [a.get("Name") for a in requested] == [HETU, GIVEN_NAME, MAIL]
    assert {a.get("NameFormat") for a in requested} == {
        "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
    }
    assert root.find(f"{MD}Organization") is not None
    assert root.find(f"{MD}ContactPerson") is not None


def test_sp_keys_are_private_and_kept(sp: ServiceProvider) -> None:
    keys = sp.keys
    assert keys.key_file.stat().st_mode & 0o777 == 0o600
    assert keys.key_file.parent.stat().st_mode & 0o777 == 0o700
    assert keys.signing_key.key_size == 3072
    again = ServiceProviderKeys.load_or_create(keys.key_file.parent)
    assert again.active.cert_base64() == keys.active.cert_base64()


# -- logins ------------------------------------------------------------------------------------


async def test_certificate_card_login(
    connector: SAMLConnector, browser: httpx.AsyncClient, mock_idp: MockIdP, replays: Replays
) -> None:
    redirect = await connector.start(UpstreamLogin(redirect_uri=ACS_URL, relay_state=RELAY_STATE))
    query, xml = authn_request(redirect.url)
    assert redirect.url.startswith(mock_idp.url + "/sso?")
    assert query["RelayState"] == RELAY_STATE
    assert query["SigAlg"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert f'AssertionConsumerServiceURL="{ACS_URL}"' in xml
    assert "nameid-format:transient" in xml and "ForceAuthn" not in xml
    assert f'ID="{redirect.saved["request_id"]}"' in xml
    form = posted_form(
        await pick(browser, await browser.get(redirect.url), "varmennekortti", TEST_HETU)
    )
    assert form["RelayState"] == RELAY_STATE
    before, remembered = time.time(), set(replays.seen)
    identity = await connector.finish(form, json.loads(json.dumps(redirect.saved)))
    assert identity.idp_id == "suomifi"
    assert identity.issuer == mock_idp.entity_id
    assert identity.subject == TEST_HETU  # the NameID is transient
    assert identity.claims[HETU] == TEST_HETU
    assert identity.claims[GIVEN_NAME] == "Tessa"
    assert "givenName" not in identity.claims  # the names as sent, not pysaml2's
    assert (identity.acr, identity.amr) == (LOA3, (CARD,))
    assert identity.auth_time is not None and abs(identity.auth_time - before) < 120
    ((issuer, _),) = set(replays.seen) - remembered
    assert issuer == mock_idp.entity_id and replays.seen[issuer, _] > time.time()


async def test_bank_login_is_loa2(connector: SAMLConnector, browser: httpx.AsyncClient) -> None:
    saved, form = await log_in(connector, browser, "pankkitunnukset", "010675-9981")
    identity = await connector.finish(form, saved)
    assert (identity.acr, identity.amr) == (LOA2, (BANK,))
    assert identity.subject == "010675-9981"
    assert identity.claims[MAIL] == "anna.testaaja@test.example.fi"


async def test_loa3_requested_and_card_chosen(
    connector: SAMLConnector, browser: httpx.AsyncClient
) -> None:
    saved, form = await log_in(connector, browser, acr_values=[LOA3])
    assert (await connector.finish(form, saved)).acr == LOA3


async def test_loa3_requested_and_bank_chosen_is_a_requirement_error(
    connector: SAMLConnector, browser: httpx.AsyncClient
) -> None:
    redirect = await connector.start(
        UpstreamLogin(redirect_uri=ACS_URL, relay_state=RELAY_STATE, acr_values=[LOA3])
    )
    _, xml = authn_request(redirect.url)
    assert 'Comparison="exact"' in xml and LOA3 in xml
    form = posted_form(
        await pick(browser, await browser.get(redirect.url), "pankkitunnukset", TEST_HETU)
    )
    with pytest.raises(UpstreamRequirementError, match="StatusNoAuthnContext"):
        await connector.finish(form, redirect.saved)


async def test_an_acr_the_portal_did_not_ask_for_is_refused(
    connector: SAMLConnector, browser: httpx.AsyncClient
) -> None:
    saved, form = await log_in(connector, browser, "pankkitunnukset")
    saved["acr_values"] = [LOA3]  # as if the IdP had ignored the RequestedAuthnContext
    with pytest.raises(UpstreamRequirementError, match="acr"):
        await connector.finish(form, saved)


async def test_prompt_login_sends_force_authn_and_wants_a_fresh_authn_instant(
    connector: SAMLConnector, browser: httpx.AsyncClient
) -> None:
    saved, form = await log_in(connector, browser, prompt=["login"])
    assert saved["force_authn"] is True
    await connector.finish(form, saved)
    saved, form = await log_in(connector, browser, prompt=["login"])  # the picker again
    saved["started_at"] += 3600  # an AuthnInstant from before the request
    with pytest.raises(UpstreamRequirementError, match="ForceAuthn"):
        await connector.finish(form, saved)


async def test_max_age_is_checked_against_the_authn_instant(
    connector: SAMLConnector, browser: httpx.AsyncClient, clock: FrozenClock
) -> None:
    redirect = await connector.start(
        UpstreamLogin(redirect_uri=ACS_URL, relay_state=RELAY_STATE, max_age=60)
    )
    assert 'ForceAuthn="true"' in authn_request(redirect.url)[1]
    form = posted_form(
        await pick(browser, await browser.get(redirect.url), "mobiilivarmenne", TEST_HETU)
    )
    clock.advance(600)
    try:
        with pytest.raises(UpstreamRequirementError, match="max_age"):
            await connector.finish(form, redirect.saved)
    finally:
        clock.advance(-600)


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "detail"),
    [
        ("unsigned", "SignatureError"),
        ("wrong_audience", "Exception"),  # pysaml2: "AudienceRestrictions conditions not satisfied"
        ("expired", "ResponseLifetimeExceed"),
        ("not_yet_valid", "ToEarly"),
        ("wrong_in_response_to", "UnsolicitedResponse"),
        ("wrong_issuer", "MissingKey"),  # no certificate in the metadata for that Issuer
        ("signed_by_other_key", "SignatureError"),
        ("wrong_destination", "no assertion"),  # pysaml2 returns no assertion rather than raise
    ],
)
async def test_each_faulty_response_is_refused(
    connector: SAMLConnector,
    browser: httpx.AsyncClient,
    mock_idp: MockIdP,
    replays: Replays,
    fault: str,
    detail: str,
) -> None:
    await arm(browser, mock_idp, fault)
    saved, form = await log_in(connector, browser)
    remembered = len(replays.seen)
    with pytest.raises(UpstreamResponseError) as refused:
        await connector.finish(form, saved)
    assert refused.value.detail == f"suomifi: {detail}" or detail in refused.value.detail
    assert len(replays.seen) == remembered


@pytest.fixture(scope="module")
def lenient(
    mock_idp: MockIdP, sp: ServiceProvider, clock: FrozenClock, replays: Replays
) -> SAMLConnector:
    """A connector for an IdP that cannot encrypt (`require_encrypted_assertions=False`)."""
    return SAMLConnector(
        suomifi(mock_idp),
        sp,
        clock,
        acs_url=ACS_URL,
        remember_assertion=replays,
        require_encrypted_assertions=False,
    )


async def unencrypted_login(
    connector: SAMLConnector, browser: httpx.AsyncClient, mock_idp: MockIdP
) -> tuple[dict[str, Any], dict[str, str]]:
    await arm(browser, mock_idp, "unencrypted")
    return await log_in(connector, browser)


async def test_unencrypted_assertion_is_refused_unless_allowed(
    connector: SAMLConnector,
    lenient: SAMLConnector,
    browser: httpx.AsyncClient,
    mock_idp: MockIdP,
) -> None:
    saved, form = await unencrypted_login(connector, browser, mock_idp)
    with pytest.raises(UpstreamResponseError, match="not encrypted"):
        await connector.finish(form, saved)
    assert (await lenient.finish(form, saved)).subject == TEST_HETU


def wrapped(saml_response: str, *, keep_original: bool) -> str:
    """An XML signature wrapping attempt: a forged copy of the honest (clear) assertion, for
    another person and unsigned, beside the signed original or in its place."""
    xml = base64.b64decode(saml_response).decode()
    match = re.search(r"<(\w+:|)Assertion\b.*?</\1Assertion>", xml, re.DOTALL)
    assert match and TEST_HETU in match[0]
    original = match[0]
    forged = re.sub(r"<(\w+:|)Signature\b.*?</\1Signature>", "", original, flags=re.DOTALL)
    forged = re.sub(
        r'ID="[^"]+"', 'ID="_forged"', forged.replace(TEST_HETU, "010469-999W"), count=1
    )
    xml = xml.replace(original, forged + original if keep_original else forged)
    return base64.b64encode(xml.encode()).decode()


@pytest.mark.parametrize(
    ("keep_original", "detail"), [(True, "2 assertions"), (False, "SignatureError")]
)
async def test_signature_wrapping_is_refused(
    lenient: SAMLConnector,
    browser: httpx.AsyncClient,
    mock_idp: MockIdP,
    keep_original: bool,
    detail: str,
) -> None:
    saved, form = await unencrypted_login(lenient, browser, mock_idp)
    attack = {**form, "SAMLResponse": wrapped(form["SAMLResponse"], keep_original=keep_original)}
    with pytest.raises(UpstreamResponseError, match=detail):
        await lenient.finish(attack, saved)
    assert (await lenient.finish(form, saved)).subject == TEST_HETU  # the honest one still is


async def test_the_same_response_twice_is_a_replay(
    connector: SAMLConnector, browser: httpx.AsyncClient
) -> None:
    saved, form = await log_in(connector, browser)
    await connector.finish(form, saved)
    with pytest.raises(UpstreamResponseError, match="replayed"):
        await connector.finish(form, saved)


async def test_a_response_to_another_login_is_refused(
    connector: SAMLConnector, browser: httpx.AsyncClient, replays: Replays
) -> None:
    other = await connector.start(UpstreamLogin(redirect_uri=ACS_URL, relay_state=RELAY_STATE))
    _, form = await log_in(connector, browser)
    remembered = len(replays.seen)
    with pytest.raises(UpstreamResponseError, match="UnsolicitedResponse"):
        await connector.finish(form, other.saved)
    assert len(replays.seen) == remembered


async def test_relay_state_and_saved_state_are_bound(
    connector: SAMLConnector, browser: httpx.AsyncClient
) -> None:
    saved, form = await log_in(connector, browser)
    with pytest.raises(UpstreamResponseError, match="RelayState"):
        await connector.finish({**form, "RelayState": "another"}, saved)
    with pytest.raises(TransactionError):
        await connector.finish(form, {**saved, "idp": "hus"})
    with pytest.raises(TransactionError):
        await connector.finish(form, {"idp": "suomifi"})


@pytest.mark.parametrize("garbage", ["", "not base64 at all!", base64.b64encode(b"<a/>").decode()])
async def test_garbage_is_refused(connector: SAMLConnector, garbage: str) -> None:
    saved = (
        await connector.start(UpstreamLogin(redirect_uri=ACS_URL, relay_state=RELAY_STATE))
    ).saved
    with pytest.raises(UpstreamResponseError):
        await connector.finish({"SAMLResponse": garbage, "RelayState": RELAY_STATE}, saved)


# -- metadata ----------------------------------------------------------------------------------


async def test_metadata_is_refreshed_in_the_background_by_the_clock(
    mock_idp: MockIdP, sp: ServiceProvider, replays: Replays
) -> None:
    clock, fetched = FrozenClock(time.time()), list[str]()

    async def count(request: httpx.Request) -> None:
        fetched.append(str(request.url))

    async with httpx.AsyncClient(event_hooks={"request": [count]}) as http:
        idp = suomifi(mock_idp, metadata_refresh_seconds=600)
        connector = SAMLConnector(
            idp, sp, clock, acs_url=ACS_URL, remember_assertion=replays, http=http
        )
        await connector.refresh_metadata()  # the background at start-up
        for _ in range(2):
            await connector.start(UpstreamLogin(redirect_uri=ACS_URL))
        await connector.refresh_metadata()  # not due yet
        assert len(fetched) == 1
        clock.advance(601)
        await connector.start(
            UpstreamLogin(redirect_uri=ACS_URL)
        )  # a login does not pay for the refresh
        assert len(fetched) == 1
        await connector.refresh_metadata()  # the background's next look
        assert fetched == [mock_idp.url + "/metadata"] * 2


async def test_metadata_from_a_file_and_a_wrong_entity_id(
    mock_idp: MockIdP, sp: ServiceProvider, clock: FrozenClock, replays: Replays, tmp_path: Path
) -> None:
    path = tmp_path / "idp.xml"
    async with httpx.AsyncClient() as http:
        path.write_bytes((await http.get(mock_idp.url + "/metadata")).content)
    from_file = suomifi(mock_idp, metadata_url=None, metadata_file=path)
    connector = SAMLConnector(from_file, sp, clock, acs_url=ACS_URL, remember_assertion=replays)
    assert (await connector.start(UpstreamLogin(redirect_uri=ACS_URL))).url.startswith(
        mock_idp.url + "/sso?"
    )
    stranger = suomifi(mock_idp, entity_id="https://someone.else/idp")
    connector = SAMLConnector(stranger, sp, clock, acs_url=ACS_URL, remember_assertion=replays)
    with pytest.raises(UpstreamUnavailableError, match="does not describe"):
        await connector.start(UpstreamLogin(redirect_uri=ACS_URL))
