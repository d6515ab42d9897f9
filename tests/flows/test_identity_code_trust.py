"""Linking by the identity code only from an IdP trusted for it, at a high enough level, audited
and announced by e-mail; through real HTTP with the mock HUS (OIDC, sending Maija's identity code,
which is Tessa's) and the mock Suomi.fi, in `test_account_linking`'s world.

    untrusted HUS (its code dropped)   finds no account by it, keeps nobody apart, releases none
    trusted HUS at loa2                finds no account by it: a page asks for a stronger login
    trusted HUS at loa3                linked, audited, and the account's address is told
"""

from __future__ import annotations

import httpx
import pytest
from authlib.integrations.starlette_client import StarletteOAuth2App

from tests.flows import test_account_linking
from tests.flows.suomifi import LOA3, TESSA
from tests.flows.test_account_linking import (
    MAIJA,
    VEIKKO,
    BothRoutesWorld,
    account_ids,
    audit,
    by_hus,
    by_suomifi,
    links,
    register,
    sub_of,
    suomifi_to_broker,
    to_suomifi_for_link,
)
from tests.mail import mail_sink
from tests.portal_client import callback_params, portal_client, redeem

both_routes_world = test_account_linking.both_routes_world  # the same world and portal fixtures
portal = test_account_linking.portal
hus_registration = test_account_linking.hus_registration
UNTRUSTED = pytest.mark.parametrize("both_routes_world", [False], indirect=True)
STRONGER_LOGIN = "Kirjaudu vahvemmalla tunnistautumisella"


async def tessa_registers(
    browser: httpx.AsyncClient, world: BothRoutesWorld, portal: StarletteOAuth2App, email: str
) -> str:
    """Tessa's account, by Suomi.fi with a card (loa3): her identity code is recorded."""
    auth, answer = await by_suomifi(browser, world, portal, TESSA)
    return await sub_of(portal, auth, await register(browser, answer, email))


# -- an IdP not trusted for the identity code ---------------------------------------------------
@UNTRUSTED
async def test_an_untrusted_idps_identity_code_does_not_get_into_that_persons_account(
    both_routes_world: BothRoutesWorld, portal: StarletteOAuth2App, browser: httpx.AsyncClient
) -> None:
    """Maija's HUS login says it is Tessa's code, at loa3 even: HUS is not trusted for it, so
    she registers (an account of her own), and no portal gets the code from that login."""
    world = both_routes_world
    await tessa_registers(browser, world, portal, "tessa.untrusted@example.fi")

    await world.broker.add_client("registry", release_national_identity_code=True)
    registry = portal_client(world.broker, "registry", scope="openid national_identity_code")
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as maija:
        auth, answer = await by_hus(maija, world, registry, MAIJA, acr_values=LOA3)
        assert answer.headers["location"] == "/account/register"  # not into Tessa's account
        done = await register(maija, answer, "maija.untrusted@example.fi")
        tokens = await redeem(registry, auth, callback_params(done.headers["location"])["code"])
        assert "hetu" not in await registry.userinfo(token=tokens)  # not released as verified

    assert len(account_ids(world)) == 2
    by_idp = {idp: account for account, idp, _ in links(world)}
    assert set(by_idp) == {"suomifi", "hus"} and by_idp["suomifi"] != by_idp["hus"]
    assert audit(world, "linked") == []


@UNTRUSTED
async def test_an_untrusted_idps_identity_code_cannot_block_a_link_either(
    both_routes_world: BothRoutesWorld, portal: StarletteOAuth2App, browser: httpx.AsyncClient
) -> None:
    """Maija's HUS login (Tessa's code, untrusted) and Veikko's Suomi.fi login in one
    transaction: the person has both credentials, and HUS's code is no evidence of anyone, so
    it neither refuses the link as "two people" nor changes anything: HUS is linked by both."""
    world = both_routes_world
    auth, answer = await by_suomifi(browser, world, portal, VEIKKO)
    first_sub = await sub_of(portal, auth, await register(browser, answer, "veikko.u@example.fi"))

    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as other:
        auth2, answer2 = await by_hus(other, world, portal, MAIJA)
        assert answer2.headers["location"] == "/account/register"
        sso = await to_suomifi_for_link(other, world)
        linked = await suomifi_to_broker(other, world, sso, VEIKKO)
        assert await sub_of(portal, auth2, linked) == first_sub

    [account] = account_ids(world)
    assert links(world) == [(account, "hus", "organisation"), (account, "suomifi", "personal")]
    assert audit(world, "linked") == [{"idp": "hus", "proof": "login by both routes"}]


# -- a trusted IdP, by level of assurance ------------------------------------------------------
async def test_a_trusted_idp_below_the_linking_level_does_not_link_by_identity_code(
    both_routes_world: BothRoutesWorld, portal: StarletteOAuth2App, browser: httpx.AsyncClient
) -> None:
    """HUS is trusted, but Maija's password login is loa2: it is not linked to Tessa's account
    by the code, and since registering would give the person a second account, a page asks for
    a stronger login (or the account's own route) instead."""
    world = both_routes_world
    await tessa_registers(browser, world, portal, "tessa.loa2@example.fi")

    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as other_day:
        _, refused = await by_hus(other_day, world, portal, MAIJA)  # the mock's default: loa2
        assert refused.status_code == 403, refused.text
        assert STRONGER_LOGIN in refused.text and 'lang="fi"' in refused.text
        assert "Virhetunnus" in refused.text and 'href="/login/role"' in refused.text
        again = await other_day.get(world.broker.url + "/login/role")  # the routes again
        assert again.status_code == 200, again.text

    [account] = account_ids(world)
    assert links(world) == [(account, "suomifi", "personal")]
    assert audit(world, "linked") == []


async def test_a_trusted_idp_at_loa3_links_with_an_audit_row_and_a_mail_to_the_account(
    both_routes_world: BothRoutesWorld, portal: StarletteOAuth2App, browser: httpx.AsyncClient
) -> None:
    """Tessa registered in Swedish; Maija's HUS login at loa3 with Tessa's code joins her
    account: audited, and a mail in Swedish to the account's address names HUS and the time,
    says what to do if it was not her, and carries no identity code."""
    world = both_routes_world
    email = "tessa.loa3@example.fi"
    auth, answer = await by_suomifi(browser, world, portal, TESSA, ui_locales="sv")
    first_sub = await sub_of(portal, auth, await register(browser, answer, email))
    before = len(mail_sink().messages(email))  # the registration's code

    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as other_day:
        auth2, answer2 = await by_hus(other_day, world, portal, MAIJA, acr_values=LOA3)
        assert await sub_of(portal, auth2, answer2) == first_sub

    [account] = account_ids(world)
    assert links(world) == [(account, "hus", "organisation"), (account, "suomifi", "personal")]
    assert audit(world, "linked") == [{"idp": "hus", "proof": "identity code"}]
    *_, mail = mail_sink().wait_for(email, count=before + 1)
    assert mail.subject == "Ett nytt identifieringssätt kopplades till ditt konto"
    assert "HUS \N{EN DASH} Helsingfors och Nylands sjukvårdsdistrikt" in mail.text
    assert "(finsk tid)" in mail.text and "kontakta genast" in mail.text
    assert TESSA not in mail.text and TESSA not in mail.raw.decode(errors="replace")
