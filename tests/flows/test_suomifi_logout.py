"""SAML single logout through real servers: portal → broker /end_session → the mock Suomi.fi's
/slo → the broker's /upstream/saml/slo → the portal; and the other way round, the IdP's own
LogoutRequest ending the broker's session. Forged, unsolicited and replayed messages are made
here, signed with keys generated for the test or with the mock's own test key."""

from __future__ import annotations

import base64
import re
import secrets
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from broker.upstream.saml.logout import MESSAGE_LIFETIME
from tests.flows.conftest import LogoutReceiver, wait_for
from tests.flows.suomifi import (
    CARD,
    TESSA,
    back_at_broker,
    log_in_with_suomifi,
    next_hop,
    posted,
    query,
    saml_message,
    to_suomifi,
)
from tests.flows.test_logout import LOGGED_OUT
from tests.portal_client import callback_params, portal_client, redeem, start
from tests.worlds import SAMLWorld

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
MOCK_KEY = "suomifi-mock-idp-TEST-ONLY.key"


async def logged_in(world: SAMLWorld, browser: httpx.AsyncClient, **client: Any) -> str:
    """A Suomi.fi login for the portal; its ID token."""
    await world.broker.add_client(**client)
    _, token = await log_in_with_suomifi(world, browser, portal_client(world.broker))
    return str(token["id_token"])


async def end_session(world: SAMLWorld, browser: httpx.AsyncClient, id_token: str) -> str:
    """The portal's logout; where the broker sends the browser next."""
    response = await browser.get(
        world.broker.url + "/end_session",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": LOGGED_OUT, "state": "bye"},
    )
    return next_hop(response)


async def picker_shown(world: SAMLWorld, browser: httpx.AsyncClient) -> bool:
    """Whether the mock asks again at the next login (no IdP session), rather than answering."""
    auth = await start(portal_client(world.broker))
    page = await browser.get(await to_suomifi(browser, world, auth.url))
    assert page.status_code == 200, page.text
    return "saml-post" not in page.text


def signed_redirect(
    location: str, kind: str, xml: str, relay_state: str, key: rsa.RSAPrivateKey
) -> str:
    """An HTTP-Redirect binding URL, written out by hand (SAML Bindings §3.4.4.1)."""
    deflater = zlib.compressobj(wbits=-15)
    encoded = base64.b64encode(deflater.compress(xml.encode()) + deflater.flush()).decode()
    signed = f"{kind}={quote_plus(encoded)}&RelayState={quote_plus(relay_state)}"
    signed += f"&SigAlg={quote_plus(RSA_SHA256)}"
    signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{location}?{signed}&Signature={quote_plus(base64.b64encode(signature).decode())}"


def mock_key(mock_idp_keys: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(
        (mock_idp_keys / "suomifi" / MOCK_KEY).read_bytes(), None
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def logout_response(world: SAMLWorld, in_response_to: str, status: str = SUCCESS) -> str:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return (
        '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Version="2.0" '
        f'ID="_{secrets.token_hex(20)}" IssueInstant="{now}" InResponseTo="{in_response_to}" '
        f'Destination="{world.broker.url}/upstream/saml/slo">'
        f"<saml:Issuer>{world.suomifi_url}/idp</saml:Issuer>"
        f'<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>'
        "</samlp:LogoutResponse>"
    )


# -- the portal logs out ----------------------------------------------------------------------


async def test_portal_logout_logs_out_at_suomifi_and_returns_to_the_portal(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    id_token = await logged_in(saml_world, browser)
    to_idp = await end_session(saml_world, browser, id_token)
    assert to_idp.startswith(saml_world.suomifi_url + "/slo?SAMLRequest=")
    assert query(to_idp)["SigAlg"] == RSA_SHA256 and query(to_idp)["Signature"]
    request = saml_message(to_idp)
    assert "<ns0:SessionIndex>" in request or "SessionIndex>" in request
    assert "nameid-format:transient" in request and TESSA not in request
    assert f"{saml_world.broker.url}/saml/metadata</" in request  # Issuer: the broker's SP
    silent = await browser.get((await start(portal_client(saml_world.broker), prompt="none")).url)
    assert callback_params(silent.headers["location"])["error"] == "login_required"  # ended first
    at_idp = await browser.get(to_idp)
    assert at_idp.status_code == 303, at_idp.text
    back = str(at_idp.headers["location"])
    assert back.startswith(saml_world.broker.url + "/upstream/saml/slo?SAMLResponse=")
    assert f'InResponseTo="{re.findall(r" ID=.(_[0-9a-f]+)", request)[0]}"' in saml_message(back)
    done = await browser.get(back)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == LOGGED_OUT + "?state=bye"
    assert await picker_shown(saml_world, browser)  # the IdP's session ended too


async def test_logout_without_a_redirect_uri_ends_on_the_logged_out_page(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    id_token = await logged_in(saml_world, browser)
    to_idp = await browser.get(
        saml_world.broker.url + "/end_session",
        params={"id_token_hint": id_token, "ui_locales": "sv"},
    )
    assert "Du loggas också ut från Suomi.fi-identifikation" in to_idp.text
    assert "sote_session" not in str(browser.cookies.keys())  # cleared on the way to the IdP
    at_idp = await browser.get(next_hop(to_idp))
    done = await browser.get(at_idp.headers["location"])
    assert done.status_code == 200
    assert "Portal portal" in done.text and 'lang="sv"' in done.text


async def test_suomifi_down_the_person_still_lands_at_the_portal(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    id_token = await logged_in(saml_world, browser)
    saml_world.stop_suomifi()
    assert await end_session(saml_world, browser, id_token) == LOGGED_OUT + "?state=bye"
    silent = await browser.get((await start(portal_client(saml_world.broker), prompt="none")).url)
    assert callback_params(silent.headers["location"])["error"] == "login_required"


async def test_an_error_status_from_suomifi_still_lands_at_the_portal(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    id_token = await logged_in(saml_world, browser)
    async with httpx.AsyncClient() as http:
        armed = await http.post(
            saml_world.suomifi_url + "/_faults", json={"fault": "logout_failure"}
        )
        assert armed.json() == {"fault": "logout_failure", "remaining": 1}
    at_idp = await browser.get(await end_session(saml_world, browser, id_token))
    assert "RequestDenied" in saml_message(at_idp.headers["location"])
    done = await browser.get(at_idp.headers["location"])
    assert done.headers["location"] == LOGGED_OUT + "?state=bye"
    assert not await picker_shown(saml_world, browser)  # the mock kept its session, as it said


async def test_forged_unsolicited_and_replayed_logout_responses_are_refused(
    saml_world: SAMLWorld, browser: httpx.AsyncClient, mock_idp_keys: Path
) -> None:
    id_token = await logged_in(saml_world, browser)
    to_idp = await end_session(saml_world, browser, id_token)
    relay = query(to_idp)["RelayState"]
    request_id = re.findall(r' ID="(_[0-9a-f]+)"', saml_message(to_idp))[0]
    slo = saml_world.broker.url + "/upstream/saml/slo"
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    honest = mock_key(mock_idp_keys)
    answer, other = logout_response(saml_world, request_id), logout_response(saml_world, "_x")
    refused = [
        signed_redirect(slo, "SAMLResponse", answer, relay, impostor),  # forged
        signed_redirect(slo, "SAMLResponse", other, relay, honest),  # answers another request
        signed_redirect(slo, "SAMLResponse", answer, "unknown", honest),  # answers no logout
    ]
    for url in refused:
        answer = await browser.get(url)
        assert answer.status_code == 400, answer.text
        assert "location" not in answer.headers
        assert "Uloskirjautumista ei voitu vahvistaa" in answer.text
    genuine = (await browser.get(to_idp)).headers["location"]  # the real answer still counts
    assert (await browser.get(genuine)).headers["location"] == LOGGED_OUT + "?state=bye"
    replayed = await browser.get(genuine)
    assert replayed.status_code == 400 and "location" not in replayed.headers


# -- Suomi.fi logs the person out -------------------------------------------------------------


async def test_a_logout_at_suomifi_ends_the_broker_session_and_tells_the_portal(
    saml_world: SAMLWorld, browser: httpx.AsyncClient, receiver: LogoutReceiver
) -> None:
    await logged_in(saml_world, browser, backchannel_logout_uri=receiver.url)
    entity = quote_plus(saml_world.broker.url + "/saml/metadata")
    to_broker = await browser.get(f"{saml_world.suomifi_url}/_idp-logout?sp={entity}")
    assert to_broker.status_code == 303, to_broker.text
    assert to_broker.headers["location"].startswith(saml_world.broker.url + "/upstream/saml/slo?")
    answer = await browser.get(to_broker.headers["location"])
    assert answer.status_code == 303, answer.text
    back = str(answer.headers["location"])
    assert back.startswith(saml_world.suomifi_url + "/slo?SAMLResponse=")
    assert SUCCESS in saml_message(back)
    shown = await browser.get(back)  # the mock checks the broker's signature
    assert shown.status_code == 200 and "(Success)" in shown.text
    await wait_for(lambda: len(receiver.tokens) == 1)
    silent = await browser.get((await start(portal_client(saml_world.broker), prompt="none")).url)
    assert callback_params(silent.headers["location"])["error"] == "login_required"
    again = await browser.get(to_broker.headers["location"])
    assert again.status_code == 400  # a LogoutRequest is accepted once


async def test_a_forged_logout_request_ends_nothing(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await logged_in(saml_world, browser)
    entity = quote_plus(saml_world.broker.url + "/saml/metadata")
    from_idp = await browser.get(f"{saml_world.suomifi_url}/_idp-logout?sp={entity}")
    genuine = str(from_idp.headers["location"])
    params = query(genuine)
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = signed_redirect(
        genuine.split("?")[0], "SAMLRequest", saml_message(genuine), params["RelayState"], impostor
    )
    refused = await browser.get(forged)
    assert refused.status_code == 400 and "location" not in refused.headers
    auth = await start(portal_client(saml_world.broker), prompt="none")
    still = await browser.get(auth.url)
    assert "code" in callback_params(still.headers["location"])  # the broker session lives on


async def genuine_logout_request(saml_world: SAMLWorld, browser: httpx.AsyncClient) -> str:
    """The mock Suomi.fi's own signed LogoutRequest to the broker, as a redirect URL."""
    entity = quote_plus(saml_world.broker.url + "/saml/metadata")
    from_idp = await browser.get(f"{saml_world.suomifi_url}/_idp-logout?sp={entity}")
    assert from_idp.status_code == 303, from_idp.text
    return str(from_idp.headers["location"])


async def assert_refused_and_session_kept(
    saml_world: SAMLWorld, browser: httpx.AsyncClient, url: str
) -> None:
    refused = await browser.get(url)
    assert refused.status_code == 400 and "location" not in refused.headers
    auth = await start(portal_client(saml_world.broker), prompt="none")
    still = await browser.get(auth.url)
    assert "code" in callback_params(still.headers["location"])  # the broker session lives on


async def test_a_signed_logout_request_for_another_destination_ends_nothing(
    saml_world: SAMLWorld, browser: httpx.AsyncClient, mock_idp_keys: Path
) -> None:
    """Signed by the IdP's own key, but addressed to another SP's SingleLogoutService."""
    await logged_in(saml_world, browser)
    genuine = await genuine_logout_request(saml_world, browser)
    xml = saml_message(genuine)
    ours = f'Destination="{saml_world.broker.url}/upstream/saml/slo"'
    assert ours in xml
    elsewhere = xml.replace(ours, 'Destination="https://other-sp.example/saml/slo"')
    relay_state = query(genuine)["RelayState"]
    url = signed_redirect(
        genuine.split("?")[0], "SAMLRequest", elsewhere, relay_state, mock_key(mock_idp_keys)
    )
    await assert_refused_and_session_kept(saml_world, browser, url)
    assert (await browser.get(genuine)).status_code == 303  # the untouched one is accepted


async def test_a_signed_logout_request_issued_too_long_ago_ends_nothing(
    saml_world: SAMLWorld, browser: httpx.AsyncClient, mock_idp_keys: Path
) -> None:
    """IssueInstant older than the message lifetime plus the clock skew: a replay, refused."""
    await logged_in(saml_world, browser)
    genuine = await genuine_logout_request(saml_world, browser)
    xml = saml_message(genuine)
    window = MESSAGE_LIFETIME + saml_world.broker.settings.tokens.clock_skew
    old = time.gmtime(saml_world.broker.clock.now() - window - 30)
    stale = re.sub(
        r'IssueInstant="[^"]+"', f'IssueInstant="{time.strftime("%Y-%m-%dT%H:%M:%SZ", old)}"', xml
    )
    assert stale != xml
    relay_state = query(genuine)["RelayState"]
    url = signed_redirect(
        genuine.split("?")[0], "SAMLRequest", stale, relay_state, mock_key(mock_idp_keys)
    )
    await assert_refused_and_session_kept(saml_world, browser, url)


# -- prompt=none: IsPassive -------------------------------------------------------------------


async def test_prompt_none_asks_suomifi_passively(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await saml_world.broker.add_client()
    client = portal_client(saml_world.broker)
    auth = await start(client, prompt="none", idp_hint="suomifi")
    to_idp = await browser.get(auth.url)
    assert to_idp.status_code == 303
    assert 'IsPassive="true"' in saml_message(to_idp.headers["location"])
    acs, form = posted(await browser.get(to_idp.headers["location"]))  # no session: NoPassive
    back = await back_at_broker(browser, saml_world, acs, form)
    assert callback_params(back.headers["location"])["error"] == "login_required"
    assert callback_params(back.headers["location"])["state"] == auth.state


async def test_prompt_none_is_answered_from_the_suomifi_session(
    saml_world: SAMLWorld, browser: httpx.AsyncClient
) -> None:
    await logged_in(saml_world, browser)
    browser.cookies.delete(next(n for n in browser.cookies if n.startswith("sote_session")))
    client = portal_client(saml_world.broker)
    auth = await start(client, prompt="none", idp_hint="suomifi")
    to_idp = await browser.get(auth.url)
    acs, form = posted(await browser.get(to_idp.headers["location"]))  # the mock's session
    back = await back_at_broker(browser, saml_world, acs, form)
    token = await redeem(client, auth, callback_params(back.headers["location"])["code"])
    claims = await client.parse_id_token(token, nonce=auth.nonce)
    assert claims["amr"] == [CARD]
