"""Playing the login-binding attack: an attacker's login answered in a victim's browser."""

from __future__ import annotations

import httpx
from authlib.integrations.starlette_client import StarletteOAuth2App

from tests.flows.suomifi import continued
from tests.portal_client import start

ELSEWHERE = "Kirjautumista ei aloitettu tässä selaimessa"


async def hinted_idp_url(
    attacker: httpx.AsyncClient, client: StarletteOAuth2App, idp: str, **params: str
) -> str:
    """Step 1: the attacker's own portal login, stopped at the redirect to the IdP."""
    auth = await start(client, idp_hint=idp, **params)
    to_idp = await attacker.get(auth.url)
    assert to_idp.status_code == 303, to_idp.text
    return str(to_idp.headers["location"])


async def attacker_gets_nothing(
    attacker: httpx.AsyncClient, broker_url: str, held: httpx.Response
) -> None:
    """Step 3: the attacker's browser, which began the login, has its cookie but not the
    handle the ACS gave the victim's browser; with a guessed or without a handle, nothing."""
    for path in ("/upstream/saml/continue", "/upstream/saml/continue?h=guess"):
        refused = await attacker.get(broker_url + path)
        assert refused.status_code == 400, refused.text
        assert "location" not in refused.headers
        assert ELSEWHERE in refused.text
    assert "h=" in held.headers["location"]


async def victim_refused(victim: httpx.AsyncClient, broker_url: str, held: httpx.Response) -> None:
    """Step 2's end: the victim's browser has the handle but not the login: a page that says
    so, no code for anyone, no session in the victim's browser either."""
    page = await continued(victim, broker_url, held)
    assert page.status_code == 400, page.text
    assert "location" not in page.headers
    assert ELSEWHERE in page.text
    assert not any(name.startswith("sote_session") for name in victim.cookies)
