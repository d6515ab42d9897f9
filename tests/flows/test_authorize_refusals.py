"""What /authorize refuses, and how: a page while redirect_uri is untrusted, a redirect after."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from tests.brokers import RunningBroker
from tests.login_walk import HUS_USER, hidden_inputs, log_in, register_if_new, walk_to_idp
from tests.portal_client import REDIRECT_URI, callback_params

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 appendix B
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def authorize_url(broker: RunningBroker, **overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "client_id": "portal",
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile",
        "state": "s-123",
        "nonce": "n-456",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return (
        broker.url + "/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "nobody"},
        {"client_id": None},
        {"redirect_uri": None},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": REDIRECT_URI + "/"},
        {"redirect_uri": REDIRECT_URI + "?x=1"},
        {"redirect_uri": REDIRECT_URI.upper()},
        {"redirect_uri": "http://127.0.0.1:9/callback#frag"},
    ],
    ids=lambda o: next(iter(o.items()))[0] + "=" + str(next(iter(o.values()))),
)
async def test_untrusted_client_or_redirect_uri_gets_a_page_never_a_redirect(
    broker: RunningBroker, browser: httpx.AsyncClient, overrides: dict[str, str | None]
) -> None:
    await broker.add_client()
    response = await browser.get(authorize_url(broker, **overrides))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert 'lang="fi"' in response.text
    assert "Virhetunnus" in response.text


async def test_repeated_redirect_uri_is_untrusted(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    url = authorize_url(broker) + "&redirect_uri=" + "https%3A%2F%2Fevil.example%2F"
    response = await browser.get(url)
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_error_page_speaks_the_users_language(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    response = await browser.get(
        authorize_url(broker, client_id="nobody"), headers={"Accept-Language": "sv-FI,sv;q=0.9"}
    )
    assert 'lang="sv"' in response.text
    english = await browser.get(authorize_url(broker, client_id="nobody", ui_locales="en"))
    assert 'lang="en"' in english.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"code_challenge": CHALLENGE + "\n"}, "invalid_request"),  # `$` matched before "\n"
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "consent"}, "invalid_request"),  # not honoured, so refused
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "\u00b2"}, "invalid_request"),  # "²".isdigit(), but int("²") raised: a 500
        ({"max_age": "\u0661"}, "invalid_request"),  # an Arabic-Indic 1: digits are ASCII here
        ({"request": "eyJ.x.y"}, "request_not_supported"),
        ({"request_uri": "https://x/r"}, "request_uri_not_supported"),
        ({"response_mode": "fragment"}, "invalid_request"),
    ],
)
async def test_invalid_request_from_a_known_portal_is_redirected_back_with_state(
    broker: RunningBroker,
    browser: httpx.AsyncClient,
    overrides: dict[str, str | None],
    error: str,
) -> None:
    await broker.add_client()
    response = await browser.get(authorize_url(broker, **overrides))
    assert response.status_code == 303
    params = callback_params(response.headers["location"])
    assert params["error"] == error
    assert params["state"] == "s-123"
    assert params["iss"] == broker.url


async def test_prompt_none_without_session_answers_login_required(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    response = await browser.get(authorize_url(broker, prompt="none"))
    params = callback_params(response.headers["location"])
    assert params["error"] == "login_required", params
    assert params["state"] == "s-123"


async def test_sso_session_prompt_and_max_age(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    first = await log_in(browser, broker, authorize_url(broker))
    assert "code" in callback_params(first.headers["location"])

    silent = await browser.get(authorize_url(broker, prompt="none"))
    assert "code" in callback_params(silent.headers["location"])

    again = await browser.get(authorize_url(broker, prompt="login"))
    assert again.headers["location"] == "/login/role"
    choose_again = await browser.get(authorize_url(broker, prompt="select_account"))
    assert choose_again.headers["location"] == "/login/role"

    broker.clock.advance(120)
    fresh_enough = await browser.get(authorize_url(broker, max_age="600"))
    assert "code" in callback_params(fresh_enough.headers["location"])
    too_old = await browser.get(authorize_url(broker, max_age="60"))
    assert too_old.headers["location"] == "/login/role"
    too_old_silent = await browser.get(authorize_url(broker, max_age="60", prompt="none"))
    assert callback_params(too_old_silent.headers["location"])["error"] == "login_required"


async def test_higher_assurance_than_the_session_has_needs_a_new_login(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    loa2, loa3 = "http://ftn.ficora.fi/2017/loa2", "http://ftn.ficora.fi/2017/loa3"
    await log_in(browser, broker, authorize_url(broker, acr_values=loa2))
    response = await browser.get(authorize_url(broker, acr_values=loa3))
    assert response.headers["location"] == "/login/role"


async def test_a_reloaded_upstream_callback_completes_the_login_once(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    to_idp = await walk_to_idp(browser, broker, authorize_url(broker))
    form_page = await browser.get(to_idp)
    action = form_page.text.split('<form method="post" action="')[1].split('"')[0]
    posted = await browser.post(
        broker.idp_url + action if action.startswith("/") else action,
        data={**hidden_inputs(form_page.text), "username": HUS_USER[0], "password": HUS_USER[1]},
    )
    callback = posted.headers["location"]
    cookies = dict(browser.cookies)
    first = await register_if_new(browser, await browser.get(callback))
    assert "code" in callback_params(first.headers["location"])
    browser.cookies.clear()
    browser.cookies.update(cookies)  # the tab still had the transaction cookie
    second = await browser.get(callback)
    assert second.status_code == 400
    assert "location" not in second.headers


async def test_security_headers_on_pages(broker: RunningBroker, browser: httpx.AsyncClient) -> None:
    response = await browser.get(authorize_url(broker, client_id="nobody"))
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


async def test_cookies_are_httponly_and_samesite_lax(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client()
    response = await browser.get(authorize_url(broker))
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("sote_tx_insecure_dev=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()


async def test_language_switch_refuses_open_redirects(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = await browser.get(broker.url + "/lang", params={"to": "sv", "next": target})
        assert response.headers["location"] == "/"
    ok = await browser.get(broker.url + "/lang", params={"to": "sv", "next": "/login/role"})
    assert ok.headers["location"] == "/login/role"
