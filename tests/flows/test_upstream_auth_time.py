"""`auth_time` is when the upstream IdP authenticated the person (OIDC `auth_time`, SAML
`AuthnInstant`), not when the broker's session began: an IdP that answers from its own two-hour
old session does not make a later `max_age=60` at the broker look satisfied, and the ID token
says the IdP's time."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.integrations.starlette_client import StarletteOAuth2App

from tests.flows.test_org_saml_journey import at_the_idp, authn_request, back_to_broker
from tests.jwt_tools import jwt_parts
from tests.login_walk import (
    HUS_USER,
    choose_organisation,
    hidden_inputs,
    upstream_login,
    walk_to_idp,
)
from tests.portal_client import Authorization, callback_params, portal_client, redeem, start
from tests.worlds import JourneyWorld, OrgSAMLWorld

TWO_HOURS = 7200
SOITE_USER = ("elin.sundqvist", "testi1234")


async def log_in_at_idp_only(browser: httpx.AsyncClient, idp_authorize_url: str) -> None:
    """The person logs in at the mock OIDC IdP and goes no further (its session starts)."""
    form_page = await browser.get(idp_authorize_url)
    action = form_page.text.split('<form method="post" action="')[1].split('"')[0]
    posted = await browser.post(
        action,
        data={**hidden_inputs(form_page.text), "username": HUS_USER[0], "password": HUS_USER[1]},
    )
    assert posted.status_code in (302, 303), posted.text


async def id_token_auth_time(
    client: StarletteOAuth2App, auth: Authorization, answer: httpx.Response
) -> int:
    assert answer.status_code == 303, answer.text
    token = await redeem(client, auth, callback_params(answer.headers["location"])["code"])
    return int(jwt_parts(token["id_token"])[1]["auth_time"])


async def test_an_oidc_idps_old_session_does_not_satisfy_max_age(
    world: JourneyWorld, browser: httpx.AsyncClient
) -> None:
    broker = world.broker
    await broker.add_client()
    client = portal_client(broker)
    # Two hours ago the person logged in at HUS (and went no further then).
    world.idp_clock.offset = -TWO_HOURS
    before = int(time.time()) - TWO_HOURS
    await log_in_at_idp_only(browser, await walk_to_idp(browser, broker, (await start(client)).url))
    after = int(time.time()) - TWO_HOURS + 1
    world.idp_clock.offset = 0
    # Now a portal's login: HUS answers from that session, without its form.
    auth = await start(client)
    answer = await upstream_login(browser, await walk_to_idp(browser, broker, auth.url))
    assert before <= await id_token_auth_time(client, auth, answer) <= after
    # A portal that wants a login of the last minute: the broker's session is too old for it,
    # so the person goes upstream again, with max_age, and HUS asks for the password.
    fresh = await start(client, max_age="60")
    first = await browser.get(fresh.url)
    assert first.headers["location"] == "/login/role"
    to_idp = await choose_organisation(browser, broker)
    assert parse_qs(urlsplit(to_idp).query)["max_age"] == ["60"]
    assert 'name="password"' in (await browser.get(to_idp)).text
    answer = await upstream_login(browser, to_idp)
    assert await id_token_auth_time(client, fresh, answer) == int(broker.clock.now())


async def test_a_saml_idps_old_session_does_not_satisfy_max_age(
    org_saml_world: OrgSAMLWorld, browser: httpx.AsyncClient
) -> None:
    world = org_saml_world
    broker = world.broker
    await broker.add_client()
    client = portal_client(broker)
    # Two hours ago the person logged in at Soite (the Response then was never used).
    world.idp_clock.offset = -TWO_HOURS
    before = int(time.time()) - TWO_HOURS
    sso_url = (await browser.get((await start(client, idp_hint="soite")).url)).headers["location"]
    await at_the_idp(browser, sso_url, SOITE_USER)
    after = int(time.time()) - TWO_HOURS + 1
    world.idp_clock.offset = 0
    # Now a portal's login: Soite answers from that session, AuthnInstant two hours ago.
    auth = await start(client, idp_hint="soite")
    sso_url = (await browser.get(auth.url)).headers["location"]
    answer = await back_to_broker(
        browser, world, await at_the_idp(browser, sso_url, SOITE_USER, expect_form=False)
    )
    assert before <= await id_token_auth_time(client, auth, answer) <= after
    # max_age=60: upstream again, with ForceAuthn, and Soite asks for the password.
    fresh = await start(client, idp_hint="soite", max_age="60")
    sso_url = (await browser.get(fresh.url)).headers["location"]
    assert sso_url.startswith(world.org_saml_url + "/soite/sso?"), sso_url
    assert 'ForceAuthn="true"' in authn_request(sso_url)
    answer = await back_to_broker(browser, world, await at_the_idp(browser, sso_url, SOITE_USER))
    assert await id_token_auth_time(client, fresh, answer) == int(broker.clock.now())
