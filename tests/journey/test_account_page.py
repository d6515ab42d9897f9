"""The account page's rules without HTTP (`account_page.py`): only the SSO session of an
account opens it, deleting needs a recent login, a new e-mail address is the account's only
with the code sent to it (bound to that session), and every change reaches the session's claims."""

from __future__ import annotations

from dataclasses import replace

import pytest

from broker.accounts.service import IdentityKeys, Registration
from broker.errors import AccountRequiredError, FormInputError
from broker.journey.account_page import AccountPage, Edited, LinkedRoute, SignedIn
from broker.journey.registration import Draft
from broker.settings import AccountSettings
from broker.store.accounts import AccountRecord
from tests.journey.conftest import T0, JourneyParts

KEYS = IdentityKeys("link-1", "person-1", "suomifi", "personal", person_proven=True)
TYPED = Registration("+358401234567", "tessa@example.fi", ("school:tamk",))


def page(parts: JourneyParts, **settings: int) -> AccountPage:
    return AccountPage(
        parts.journey._provider,
        parts.journey.accounts,
        lambda: parts.registry,
        AccountSettings(**settings),  # type: ignore[arg-type]
    )


async def signed_in(parts: JourneyParts, *, age: float = 0, route: object = "personal") -> SignedIn:
    account = await parts.journey.accounts.accounts.register(
        KEYS, TYPED, parts.journey.accounts.catalogue, email_verified=True
    )
    session = await parts.journey._provider.sessions.start(
        account.account_id,
        acr="loa3",
        amr=("mobile",),
        claims={"name": "Tessa", "route": route, "email": account.email},
        auth_time=T0 - age,
    )
    return await page(parts).signed_in(session.sid)


def wrong_code(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def test_only_the_session_of_an_account_opens_the_page(parts: JourneyParts) -> None:
    account_page = page(parts)
    for sid in (None, "", "nosuch"):
        with pytest.raises(
            AccountRequiredError, match=r"^account page without an SSO session of an account$"
        ):
            await account_page.signed_in(sid)
    orphan = await parts.journey._provider.sessions.start(
        "no-account", acr=None, amr=(), claims={}, auth_time=T0
    )
    with pytest.raises(AccountRequiredError):
        await account_page.signed_in(orphan.sid)
    who = await signed_in(parts)
    assert who.account == await parts.journey.accounts.accounts.get(who.session.sub)
    assert (who.route, who.saved) == (
        "personal",
        Draft("+358401234567", "tessa@example.fi", ("school:tamk",)),
    )
    assert (account_page.stage, account_page.retention_days) == (parts.journey.accounts, 5 * 365)
    assert page(parts, audit_retention_days=30).retention_days == 30


async def test_a_session_without_a_route_claim_has_no_route(parts: JourneyParts) -> None:
    who = await signed_in(parts, route=7)
    assert who.route is None


@pytest.mark.parametrize(("age", "too_old"), [(0, False), (300, False), (301, True)])
async def test_deleting_needs_a_recent_login(
    parts: JourneyParts, age: float, too_old: bool
) -> None:
    who = await signed_in(parts, age=age)
    assert page(parts).login_too_old(who) is too_old
    assert page(parts, delete_login_max_age=3600).login_too_old(who) is False


async def test_the_linked_routes_are_named_in_the_pages_language(parts: JourneyParts) -> None:
    who = await signed_in(parts)
    hus = IdentityKeys("link-hus", None, "hus", "organisation")
    await parts.journey.accounts.accounts.link(who.account, hus, proof="test")
    gone = IdentityKeys("link-gone", None, "gone", "organisation")
    await parts.journey.accounts.accounts.link(who.account, gone, proof="test")
    parts.clock.advance(86400)
    assert await parts.journey.accounts.accounts.find(KEYS) is not None  # a login the next day
    links = await page(parts).links(who, "sv")
    hus_name = parts.registry.idp("hus").names.sv  # type: ignore[union-attr]
    day, next_day = "15.01.2027", "16.01.2027"  # T0, T0 + 1 day
    assert sorted(links, key=lambda link: link.name) == [
        LinkedRoute(hus_name, day, "-"),
        LinkedRoute("Suomi.fi-identifikation", day, next_day),
        LinkedRoute("gone", day, "-"),
    ]


async def test_a_wrong_edit_is_answered_field_by_field_and_saves_nothing(
    parts: JourneyParts,
) -> None:
    who = await signed_in(parts)
    edited = await page(parts).save(who, Draft("12", "tessa@example.fi", ("school:tamk",)), "fi")
    assert edited == Edited({"phone": "registration.phone.invalid"})
    assert await parts.journey.accounts.accounts.get(who.account.account_id) == who.account


async def test_an_edit_is_saved_and_reaches_the_session(parts: JourneyParts) -> None:
    who = await signed_in(parts)
    parts.clock.advance(10)
    draft = Draft("040 765 4321", "tessa@example.fi", ("school:tamk", "org:hus"))
    assert await page(parts).save(who, draft, "fi") == Edited()
    account = await parts.journey.accounts.accounts.get(who.account.account_id)
    assert account is not None
    assert (account.phone, account.partners, account.updated_at) == (
        "+358407654321",
        ("school:tamk", "org:hus"),
        T0 + 10,
    )
    session = await parts.journey._provider.sessions.active(who.session.sid)
    assert session is not None
    assert session.claims["phone_number"] == "+358407654321"
    assert [p["id"] for p in session.claims["partner_organisations"]] == ["school:tamk", "org:hus"]
    assert (session.claims["name"], session.claims["route"]) == ("Tessa", "personal")
    [*_, entry] = await parts.store.audit.trail(account.account_id)
    assert (entry.action, entry.route) == ("edited", "personal")
    assert parts.mail.sent == []


async def test_a_new_address_waits_for_the_code_sent_to_it(parts: JourneyParts) -> None:
    account_page = page(parts)
    who = await signed_in(parts)
    draft = Draft("040 123 4567", "New@Example.fi", ("school:tamk",))
    assert await account_page.save(who, draft, "sv") == Edited(code_sent_to="New@example.fi")
    assert [(to, lang) for to, _, lang in parts.mail.sent] == [("New@example.fi", "sv")]
    account = await parts.journey.accounts.accounts.get(who.account.account_id)
    assert account == who.account  # the old address, still verified
    with pytest.raises(FormInputError):
        await account_page.confirm_email(who, "New@example.fi", wrong_code(parts.mail.last_code()))
    await account_page.resend_email_code(who, "New@example.fi", "en")
    assert parts.mail.sent[-1][0::2] == ("New@example.fi", "en")
    parts.clock.advance(5)
    await account_page.confirm_email(who, "New@example.fi", parts.mail.last_code())
    account = await parts.journey.accounts.accounts.get(who.account.account_id)
    assert account is not None
    assert (account.email, account.email_verified_at) == ("New@example.fi", T0 + 5)
    session = await parts.journey._provider.sessions.active(who.session.sid)
    assert session is not None and session.claims["email"] == "New@example.fi"
    [*_, entry] = await parts.store.audit.trail(account.account_id)
    assert entry.route == "personal" and entry.changes == {"fields": ["email"], "confirmed": True}


async def test_the_code_of_an_address_change_is_bound_to_the_session_that_asked(
    parts: JourneyParts,
) -> None:
    account_page = page(parts)
    who = await signed_in(parts)
    await account_page.save(who, replace(who.saved, email="new@example.fi"), "fi")
    other = await parts.journey._provider.sessions.start(
        who.account.account_id, acr=None, amr=(), claims={}, auth_time=T0
    )
    elsewhere = SignedIn(other, who.account)
    with pytest.raises(FormInputError) as refused:
        await account_page.confirm_email(elsewhere, "new@example.fi", parts.mail.last_code())
    assert refused.value.message_id == "registration.code.missing"  # none sent for it
    codes = parts.journey.accounts.codes
    await codes.confirm("account:" + who.session.sid, "new@example.fi", parts.mail.last_code())


async def test_an_address_the_code_cannot_go_to_saves_nothing(parts: JourneyParts) -> None:
    who = await signed_in(parts)
    parts.mail.failing = True
    draft = Draft("040 765 4321", "new@example.fi", ("school:tamk",))
    assert await page(parts).save(who, draft, "fi") == Edited(
        {"email": "registration.email.not_sent"}
    )
    assert await parts.journey.accounts.accounts.get(who.account.account_id) == who.account
    with pytest.raises(FormInputError):
        await page(parts).resend_email_code(who, "new@example.fi", "fi")


async def test_deleting_ends_every_session_and_the_account(parts: JourneyParts) -> None:
    who = await signed_in(parts)
    other = await parts.journey._provider.sessions.start(
        who.account.account_id, acr=None, amr=(), claims={}, auth_time=T0
    )
    await page(parts).delete(who)
    assert await parts.journey.accounts.accounts.get(who.account.account_id) is None
    for sid in (who.session.sid, other.sid):
        assert await parts.journey._provider.sessions.active(sid) is None
    [*_, entry] = await parts.store.audit.trail(who.account.account_id)
    assert (entry.action, entry.route) == ("deleted", "personal")
    assert isinstance(who.account, AccountRecord)
