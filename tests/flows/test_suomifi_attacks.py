"""Attacks through the running broker: the forge answers the broker's real AuthnRequest with the
mock Suomi.fi's own key, the answer is posted cross-site to the ACS, and the browser continues
same-site, as in a real login. Each attack ends on the refusal page, the log names the reason (and
never the identity code), and the portal gets nothing: no code, and no SSO session either.
The connector-level tests (tests/upstream/saml/test_attacks.py) cover the whole family."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from broker.app import create_app
from broker.upstream.saml.sp_keys import CERT_FILE
from mock_idps.saml_common.keys import KeyPair, KeyStore, load_or_create_pair
from mock_idps.suomifi_idp.provider import KEY_NAME, ORGANISATION
from tests.flows.suomifi import continued, cross_site_post, query, saml_message, to_suomifi
from tests.login_walk import register_if_new
from tests.portal_client import Authorization, callback_params, portal_client, redeem, start
from tests.servers import bound_socket, serve
from tests.upstream.saml import saml_attacks as attack
from tests.upstream.saml.saml_forge import LOA2, LOA3, TESSA, Build, Forge, Statement, encode
from tests.worlds import SAMLWorld

# pysaml2 leaves the temporary files it hands to xmlsec1 open when a signature check fails.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <_io.FileIO name='/tmp/tmp"
    r":pytest.PytestUnraisableExceptionWarning"
)


@pytest.fixture(scope="session")
def impostor(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return load_or_create_pair(tmp_path_factory.mktemp("impostor"), "impostor-TEST-ONLY")


@pytest.fixture
def forge(saml_world: SAMLWorld, mock_idp_keys: Path, impostor: KeyPair) -> Forge:
    """Signs with the key the mock Suomi.fi publishes in its metadata, which the broker trusts."""
    keys = mock_idp_keys / "suomifi"
    sp_cert = saml_world.broker.settings.saml_sp.key_directory / CERT_FILE
    return Forge(KeyStore(keys, KEY_NAME, ORGANISATION).signing, sp_cert, impostor)


@dataclass
class Login:
    """A portal's login that reached Suomi.fi: what the broker asked, and an honest answer."""

    auth: Authorization
    relay_state: str
    statement: Statement


@pytest.fixture
async def world(saml_world: SAMLWorld) -> SAMLWorld:
    await saml_world.broker.add_client()
    return saml_world


async def login_at_suomifi(browser: httpx.AsyncClient, world: SAMLWorld, **authorize: str) -> Login:
    auth = await start(portal_client(world.broker), **authorize)
    sso_url = await to_suomifi(browser, world, auth.url)
    request_id = re.search(r'<\w+:AuthnRequest [^>]*\bID="([^"]+)"', saml_message(sso_url))
    assert request_id
    statement = Statement(
        issuer=world.suomifi_url + "/idp",
        audience=world.broker.url + "/saml/metadata",
        destination=world.broker.url + "/upstream/saml/acs",
        in_response_to=request_id[1],
    )
    return Login(auth, query(sso_url)["RelayState"], statement)


async def answer(
    browser: httpx.AsyncClient, broker_url: str, login: Login, xml: str
) -> httpx.Response:
    """The IdP's auto-submitted form (cross-site), then the browser's same-site continue."""
    form = {"SAMLResponse": encode(xml), "RelayState": login.relay_state}
    held = await cross_site_post(broker_url + "/upstream/saml/acs", form)
    return await register_if_new(browser, await continued(browser, broker_url, held))


async def assert_nothing_issued(browser: httpx.AsyncClient, world: SAMLWorld) -> None:
    """No SSO session either: a silent login from the same browser still needs a login."""
    silent = await start(portal_client(world.broker), prompt="none")
    response = await browser.get(silent.url)
    assert callback_params(response.headers["location"])["error"] == "login_required"


def assert_refused(page: httpx.Response, status: int = 502) -> None:
    assert page.status_code == status, page.text
    assert "location" not in page.headers
    assert "Virhetunnus" in page.text  # the error id
    assert 'href="/login/role"' in page.text  # another route can be chosen


async def test_a_forged_answer_with_the_idps_key_logs_in(
    world: SAMLWorld, browser: httpx.AsyncClient, forge: Forge
) -> None:
    """The forge's honest answer passes every check, so the refusals below are the attacks'."""
    login = await login_at_suomifi(browser, world)
    back = await answer(browser, world.broker.url, login, forge.genuine(login.statement))
    assert back.status_code == 303, back.text
    client = portal_client(world.broker)
    code = callback_params(back.headers["location"])["code"]
    token = await redeem(client, login.auth, code)
    assert (await client.parse_id_token(token, nonce=login.auth.nonce))["acr"] == LOA3


REFUSALS: dict[str, tuple[Build, str]] = {
    "evil-assertion-under-response-signature": (
        attack.evil_swapped_in_under_response_signature,
        "SignatureError",
    ),
    "signed-by-a-key-not-in-metadata": (
        attack.signed_by_impostor(assertion=True, response=True),
        "SignatureError",
    ),
    "xxe": (
        attack.with_doctype(attack.XXE_FILE, attack.genuine, entity="&leak;"),
        "SAMLResponse with a DOCTYPE",
    ),
    "wrong-audience": (
        attack.spoiled(lambda s: replace(s, audience="https://elsewhere.test/sp")),
        "Exception",  # pysaml2: AudienceRestrictions conditions not satisfied
    ),
    "unsolicited": (
        attack.spoiled(lambda s: replace(s, in_response_to=None)),
        "UnsolicitedResponse",
    ),
}


@pytest.mark.parametrize("name", REFUSALS)
async def test_the_attack_is_refused_and_nothing_is_issued(
    world: SAMLWorld,
    browser: httpx.AsyncClient,
    forge: Forge,
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    build, reason = REFUSALS[name]
    login = await login_at_suomifi(browser, world)
    page = await answer(browser, world.broker.url, login, build(forge, login.statement))
    assert_refused(page)
    assert TESSA not in page.text and "root:" not in page.text
    assert f"UpstreamResponseError: suomifi: {reason}" in caplog.text
    assert TESSA not in caplog.text
    await assert_nothing_issued(browser, world)


async def test_an_answer_to_another_login_is_refused(
    world: SAMLWorld,
    browser: httpx.AsyncClient,
    forge: Forge,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A genuine answer to the attacker's own login, posted into the victim's login (with the
    victim's RelayState): its InResponseTo names another AuthnRequest."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as attacker:
        theirs = await login_at_suomifi(attacker, world)
    victims = await login_at_suomifi(browser, world)
    page = await answer(browser, world.broker.url, victims, forge.genuine(theirs.statement))
    assert_refused(page)
    assert "UpstreamResponseError: suomifi: UnsolicitedResponse" in caplog.text
    await assert_nothing_issued(browser, world)


async def test_an_assertion_replayed_on_another_broker_process_is_refused(
    world: SAMLWorld,
    browser: httpx.AsyncClient,
    forge: Forge,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first answer (online bank, where the portal asked for loa3) fails the portal's
    requirement after its assertion was remembered, and the login stays open; the same answer
    again, on a second process sharing the store, meets the replay cache."""
    first = world.broker
    login = await login_at_suomifi(browser, world, acr_values=LOA3)
    bank = forge.genuine(replace(login.statement, class_ref=LOA2))
    assert_refused(await answer(browser, first.url, login, bank), status=400)
    assert "replayed" not in caplog.text
    with serve(create_app(first.settings, clock=first.clock), bound_socket()) as other:
        assert_refused(await answer(browser, other, login, bank))
    assert "suomifi: assertion replayed" in caplog.text
    await assert_nothing_issued(browser, world)


async def test_a_refused_forged_answer_is_a_failed_login_that_support_can_look_up(
    world: SAMLWorld, browser: httpx.AsyncClient, forge: Forge
) -> None:
    """The audit trail and the error id's record name the refusal, the portal and the IdP, and
    never the identity code the forged answer carried."""
    from tests.flows.test_audit_trail import error_id_of, export, run_cli

    login = await login_at_suomifi(browser, world)
    forged = attack.signed_by_impostor(assertion=True, response=True)(forge, login.statement)
    page = await answer(browser, world.broker.url, login, forged)
    assert_refused(page)
    error_id = error_id_of(page)

    [failed] = await export(world.broker)
    assert (failed["outcome"], failed["reason"]) == ("failed", "upstream_response_refused")
    assert (failed["client_id"], failed["route"], failed["idp_id"]) == (
        "portal",
        "personal",
        "suomifi",
    )
    assert failed["error_id"] == error_id
    shown = (await run_cli(world.broker, "errors", "show", error_id)).stdout
    assert re.search(r"^error\s+UpstreamResponseError$", shown, re.M), shown
    assert re.search(r"^path\s+/upstream/saml/acs$", shown, re.M), shown
    assert re.search(r"^IdP\s+suomifi$", shown, re.M), shown
    assert TESSA not in shown and TESSA not in json.dumps(failed)
