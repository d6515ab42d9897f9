"""What each portal receives, over HTTP: the scopes' claims in userinfo, the `professional` scope,
and the national identity code only for a portal registered for it.

The first test uses the claims today's journey produces (the mock HUS user). The others start
with a real login too, then give the SSO session the claims the journey puts there once it links
professional accounts (partner organisations, card type, the identity code); every later
authorization reuses that session through /authorize, so the grant, /token and /userinfo are the
real ones.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

import httpx
import pytest
from authlib.integrations.starlette_client import StarletteOAuth2App

from broker.claims.scopes import SCOPE_CLAIMS
from broker.claims.sealed import Sealer
from broker.logs import QUIET_LIBRARIES
from broker.secret_files import load_or_create_keys
from tests.brokers import RunningBroker
from tests.jwt_tools import jwt_parts
from tests.login_walk import HUS_USER_NAME, log_in
from tests.portal_client import callback_params, portal_client, redeem, start

HETU = "010280-952L"  # a test identity code (individual number 900-999)
PARTNERS = [
    {
        "id": "area:pirkanmaa",
        "kind": "wellbeing_area",
        "code": None,
        "names": {
            "fi": "Pirkanmaan hyvinvointialue",
            "sv": "Birkalands välfärdsområde",
            "en": "Pirkanmaa Wellbeing Services County",
        },
    }
]
SESSION_CLAIMS: dict[str, Any] = {
    "name": "Tessa Testilä",
    "given_name": "Tessa",
    "family_name": "Testilä",
    "route": "personal",
    "idp": "suomifi",
    "card_type": "ammattikortti",
    "prescription_right": True,
    "hetu": HETU,
    "email": "tessa.testila@example.fi",
    "email_verified": True,
    "phone_number": "+358401234567",
    "phone_number_verified": False,
    "updated_at": 1_700_000_000,
    "partner_organisations": PARTNERS,
}
PROFESSIONAL_CLAIMS = {"route", "idp", "card_type", "prescription_right", "partner_organisations"}
PRO_SCOPES = ("openid", "profile", "email", "phone", "professional")


async def authorized(
    broker: RunningBroker, browser: httpx.AsyncClient, client_id: str, scope: str
) -> tuple[StarletteOAuth2App, Any, dict[str, str]]:
    """An authorization request (SSO answers after the first login); the portal's callback."""
    client = portal_client(broker, client_id, scope=scope)
    auth = await start(client)
    back = await log_in(browser, broker, auth.url)
    assert back.status_code == 303, back.text
    return client, auth, callback_params(back.headers["location"])


async def tokens_and_userinfo(
    broker: RunningBroker, browser: httpx.AsyncClient, client_id: str, scope: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    client, auth, params = await authorized(broker, browser, client_id, scope)
    assert "error" not in params, params
    tokens = await redeem(client, auth, params["code"])
    info = await browser.get(
        broker.url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 200, info.text
    body: dict[str, Any] = info.json()
    return tokens, body


def give_session_claims(broker: RunningBroker, claims: dict[str, Any]) -> None:
    """The SSO session's claims as a card login through Suomi.fi leaves them: the identity code
    sealed with the broker's key, as the journey stores it."""
    sealer = Sealer(load_or_create_keys(broker.settings.subject_key_file)[0])
    if "hetu" in claims:
        claims = {**claims, "hetu": sealer.seal(claims["hetu"])}
    with sqlite3.connect(broker.settings.store.sqlite_path) as db:
        changed = db.execute("UPDATE sessions SET claims = ?", (json.dumps(claims),)).rowcount
    assert changed == 1


def stored_grants(broker: RunningBroker, client_id: str) -> str:
    with sqlite3.connect(broker.settings.store.sqlite_path) as db:
        rows = db.execute("SELECT claims FROM grants WHERE client_id = ?", (client_id,))
        return " ".join(row[0] for row in rows)


async def test_professional_scope_releases_todays_organisation_claims_in_userinfo_only(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client("pro", allowed_scopes=PRO_SCOPES)
    tokens, info = await tokens_and_userinfo(broker, browser, "pro", "openid profile professional")
    assert tokens["scope"] == "openid profile professional"
    assert info["name"] == HUS_USER_NAME
    assert info["route"] == "organisation"
    assert info["organisation_id"] == "hus"
    assert info["organisation_name"].startswith("HUS")
    assert info["title"] == "Sairaanhoitaja"
    assert "email" not in info  # not asked for
    _, id_token = jwt_parts(tokens["id_token"])
    assert not {"name", "route", "organisation_id", "title"} & set(id_token)  # OIDC Core §5.4

    _, without = await tokens_and_userinfo(broker, browser, "pro", "openid profile")
    assert without["name"] == HUS_USER_NAME
    assert not {"route", "organisation_id", "organisation_name", "title"} & set(without)


async def test_professional_scope_releases_partner_organisations_and_card_claims(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client("pro", allowed_scopes=PRO_SCOPES)
    await tokens_and_userinfo(broker, browser, "pro", "openid")  # the first, real login
    give_session_claims(broker, SESSION_CLAIMS)

    _, info = await tokens_and_userinfo(broker, browser, "pro", " ".join(PRO_SCOPES))
    assert info["partner_organisations"] == PARTNERS
    assert (info["route"], info["idp"]) == ("personal", "suomifi")
    assert (info["card_type"], info["prescription_right"]) == ("ammattikortti", True)
    assert (info["email"], info["email_verified"]) == ("tessa.testila@example.fi", True)
    assert (info["phone_number"], info["phone_number_verified"]) == ("+358401234567", False)
    assert info["updated_at"] == 1_700_000_000
    assert "hetu" not in info  # never with profile or professional

    _, plain = await tokens_and_userinfo(broker, browser, "pro", "openid profile email phone")
    assert not PROFESSIONAL_CLAIMS & set(plain) and "hetu" not in plain
    assert HETU not in stored_grants(broker, "pro")  # a grant keeps only what it releases


async def test_a_portal_not_allowed_the_professional_scope_gets_invalid_scope(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client("plain")
    _, _, params = await authorized(broker, browser, "plain", "openid professional")
    assert params["error"] == "invalid_scope"
    assert "professional" in params["error_description"]


async def test_identity_code_only_to_an_allowed_portal_asking_for_its_scope(
    broker: RunningBroker, browser: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # as the broker's own logging set-up: libraries quieter
    for name in QUIET_LIBRARIES:
        caplog.set_level(logging.WARNING, logger=name)
    await broker.add_client("registry", release_national_identity_code=True)
    await broker.add_client("plain")
    await tokens_and_userinfo(broker, browser, "plain", "openid")
    give_session_claims(broker, SESSION_CLAIMS)

    tokens, info = await tokens_and_userinfo(
        broker, browser, "registry", "openid profile national_identity_code"
    )
    assert tokens["scope"] == "openid profile national_identity_code"
    assert info["hetu"] == HETU and info["name"] == "Tessa Testilä"
    _, id_token = jwt_parts(tokens["id_token"])
    assert HETU not in json.dumps(id_token)

    _, unasked = await tokens_and_userinfo(broker, browser, "registry", "openid profile")
    assert "hetu" not in unasked

    _, _, refused = await authorized(broker, browser, "plain", "openid national_identity_code")
    assert refused["error"] == "invalid_scope"  # as any scope the portal is not allowed
    assert "national_identity_code" in refused["error_description"]
    _, plain = await tokens_and_userinfo(broker, browser, "plain", "openid profile email phone")
    assert "hetu" not in plain
    assert HETU not in stored_grants(broker, "plain")
    assert HETU not in stored_grants(broker, "registry")  # sealed there, opened by userinfo

    assert HETU not in caplog.text
    assert all(HETU not in str(record.__dict__) for record in caplog.records)


async def test_a_grant_stores_only_the_claims_its_scopes_release(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    """The grant row itself, not only userinfo: a portal without the identity-code permission
    asking for `openid profile` gets a grant with the profile claims and nothing else, no
    `hetu` (not even sealed), no e-mail, phone or professional claims."""
    await broker.add_client("plain")
    await tokens_and_userinfo(broker, browser, "plain", "openid")
    give_session_claims(broker, SESSION_CLAIMS)
    _, _, params = await authorized(broker, browser, "plain", "openid profile")
    assert "code" in params
    with sqlite3.connect(broker.settings.store.sqlite_path) as db:
        newest = "SELECT claims FROM grants WHERE client_id = 'plain' ORDER BY rowid DESC"
        row = db.execute(newest).fetchone()
    stored = json.loads(row[0])
    assert "hetu" not in stored
    assert set(stored) <= set(SCOPE_CLAIMS["profile"])
    assert stored["name"] == "Tessa Testilä"  # the profile claims are there


async def test_withdrawing_the_permission_stops_the_release_on_tokens_already_issued(
    broker: RunningBroker, browser: httpx.AsyncClient
) -> None:
    await broker.add_client("registry", release_national_identity_code=True)
    await tokens_and_userinfo(broker, browser, "registry", "openid")
    give_session_claims(broker, SESSION_CLAIMS)
    tokens, info = await tokens_and_userinfo(
        broker, browser, "registry", "openid national_identity_code"
    )
    assert info["hetu"] == HETU

    await broker.add_client("registry")  # registered again, without the permission
    again = await browser.get(
        broker.url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert again.status_code == 200 and "hetu" not in again.json()
    assert again.json()["sub"] == info["sub"]
