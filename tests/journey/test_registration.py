"""The account stage without HTTP (`registration.py`, `registration_flow.py`): what a login
without an account keeps, the form checked field by field, the e-mail code that must match the
address on the form, the account made once it does, and the claims an account gives portals."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import pytest

from broker.accounts.catalogue import Catalogue
from broker.accounts.email_codes import MAX_SENDS
from broker.accounts.service import MAX_PARTNERS, IdentityKeys, Registration
from broker.claims.identity import Identity, RawIdentity
from broker.claims.sealed import Sealer
from broker.errors import AccountLinkError, TransactionError
from broker.journey.completion import Redirect
from broker.journey.login_state import Phase, state_of
from broker.journey.registration import AccountStage, Draft, PendingLogin, account_claims
from broker.store.accounts import AccountRecord, PartnerOrganisationRecord
from broker.store.records import TransactionRecord, UpstreamSession
from tests.journey.conftest import REDIRECT, SUBJECT_KEY, JourneyParts, portal_params
from tests.journey.test_flow import TESSA, continued, suomifi_answer

KEYS = IdentityKeys("link-1", "person-1", "suomifi", "personal", person_proven=True)
SESSION = UpstreamSession(idp_id="suomifi", name_id="n", session_index="s")


def pending(**changes: object) -> PendingLogin:
    values: dict[str, object] = {
        "keys": KEYS,
        "claims": {"name": "Tessa", "email": "tessa@example.fi", "phone_number": "0401234567"},
        "acr": "loa3",
        "amr": ("mobile",),
        "upstream": SESSION,
        "auth_time": 1000.5,
        "municipality": "091",
    }
    return PendingLogin(**(values | changes))  # type: ignore[arg-type]


async def registering(parts: JourneyParts, *, municipality: str | None = None) -> TransactionRecord:
    """A portal's Suomi.fi login that found no account: on the registration form."""
    await parts.add_portal()
    redirect = await parts.journey.begin(portal_params(idp_hint="suomifi"), frozenset(), None)
    answer = suomifi_answer()
    if municipality is not None:
        answer = replace(
            answer,
            claims={
                **answer.claims,
                "urn:oid:1.2.246.517.2002.2.18": municipality,
                "urn:oid:1.2.246.517.2002.2.27": "false",
            },
        )
    parts.connectors["suomifi"].answer = answer
    tx = await parts.tx(redirect)
    relay = parts.connectors["suomifi"].started[-1].relay_state or ""
    assert (await continued(parts, tx, relay)).url == "/account/register"
    return await parts.reload(tx)


FILLED = Draft("040 123 4567", "tessa@Example.FI", ("school:tamk",), eligible=True)


# -- what waits in the login -------------------------------------------------------------------
def test_a_pending_login_round_trips_through_json() -> None:
    for login in (pending(), pending(upstream=None, auth_time=None, municipality=None, amr=())):
        assert PendingLogin.from_data(login.to_data()) == login
    assert pending().to_data() == {
        "keys": {
            "link_hash": "link-1",
            "person_hash": "person-1",
            "idp_id": "suomifi",
            "route": "personal",
            "person_proven": True,
        },
        "claims": pending().claims,
        "acr": "loa3",
        "amr": ["mobile"],
        "upstream": dataclasses.asdict(SESSION),
        "auth_time": 1000.5,
        "municipality": "091",
    }


def test_a_pending_login_reads_what_an_older_broker_left_out_or_wrote_oddly() -> None:
    data = pending().to_data()
    for key in ("acr", "amr", "upstream", "auth_time", "municipality"):
        del data[key]
    assert PendingLogin.from_data(data) == pending(
        acr=None, amr=(), upstream=None, auth_time=None, municipality=None
    )
    odd = {**pending().to_data(), "auth_time": True, "municipality": 91, "upstream": "x"}
    assert PendingLogin.from_data(odd) == pending(auth_time=None, municipality=None, upstream=None)
    assert PendingLogin.from_data({**pending().to_data(), "auth_time": 7}).auth_time == 7.0
    with pytest.raises(
        TransactionError, match=r"^no upstream login waits for an account in this transaction$"
    ):
        PendingLogin.from_data(None)


def test_the_identity_code_is_among_the_claims_only_sealed_and_only_when_sent() -> None:
    sealer = Sealer(SUBJECT_KEY)
    identity = Identity("suomifi", "iss", TESSA, "personal", name="Tessa", hetu=TESSA)
    raw = RawIdentity("suomifi", "iss", TESSA, {}, auth_time=5.0, session=SESSION)
    login = PendingLogin.of(identity, raw, KEYS, sealer)
    assert login.claims["idp"] == "suomifi" and login.claims["name"] == "Tessa"
    assert TESSA not in str(login.claims) and sealer.open(login.claims["hetu"]) == TESSA
    assert (login.upstream, login.auth_time) == (SESSION, 5.0)
    without = PendingLogin.of(replace(identity, hetu=None), raw, KEYS, sealer)
    assert "hetu" not in without.claims


# -- the form ----------------------------------------------------------------------------------
def test_a_draft_round_trips_and_reads_only_a_true_eligible() -> None:
    assert Draft.from_data(FILLED.to_data()) == FILLED
    assert FILLED.to_data() == {
        "phone": "040 123 4567",
        "email": "tessa@Example.FI",
        "partners": ["school:tamk"],
        "eligible": True,
    }
    assert Draft.from_data({}) == Draft()
    assert Draft.from_data({"eligible": "yes", "partners": None}) == Draft()
    assert Draft.from_data(["not", "a", "dict"]) is None


def test_partners_are_added_once_up_to_the_limit_and_removed() -> None:
    draft = Draft().with_partner("a").with_partner("b").with_partner("a")
    assert draft.partners == ("a", "b")
    assert draft.without_partner("a").partners == ("b",)
    full = Draft(partners=tuple(str(n) for n in range(MAX_PARTNERS)))
    assert full.with_partner("one-more") == full
    assert Draft(partners=full.partners[1:]).with_partner("last").partners[-1] == "last"


async def test_every_wrong_field_is_named_at_once(parts: JourneyParts) -> None:
    stage = parts.journey.accounts
    checked = stage.check(Draft("12", "no-at-sign", ()), registering=True)
    assert checked.registration is None
    assert checked.errors == {
        "eligible": "registration.eligible.missing",
        "phone": "registration.phone.invalid",
        "email": "registration.email.invalid",
        "partners": "registration.partners.missing",
    }
    assert stage.check(Draft("12", "a@b.fi", ("school:tamk",))).errors == {
        "phone": "registration.phone.invalid"
    }
    assert stage.check(replace(FILLED, partners=("nosuch",))).errors == {
        "partners": "registration.partners.invalid"
    }
    assert stage.check(replace(FILLED, eligible=False)).errors == {}  # not at registration
    good = stage.check(FILLED, registering=True)
    assert good.errors == {}
    assert good.registration == Registration("+358401234567", "tessa@example.fi", ("school:tamk",))


async def test_the_first_draft_is_what_the_idp_said(parts: JourneyParts) -> None:
    stage = parts.journey.accounts
    assert stage.first_draft(pending()) == Draft("0401234567", "tessa@example.fi", ())
    hus = pending(keys=replace(KEYS, idp_id="hus"), claims={})
    assert stage.first_draft(hus) == Draft("", "", ("org:hus",))


async def test_the_home_municipality_is_suggested_when_the_catalogue_has_it(
    parts: JourneyParts,
) -> None:
    stage = parts.journey.accounts
    assert stage.suggested_municipality(pending()) == "municipality:091"
    assert stage.suggested_municipality(pending(municipality="999")) is None
    assert stage.suggested_municipality(pending(municipality=None)) is None
    tx = await registering(parts, municipality="837")
    suggested = parts.journey.registration.suggested_partner(tx)
    assert suggested is not None and suggested.org_id == "municipality:837"


async def test_no_suggestion_without_a_municipality(parts: JourneyParts) -> None:
    tx = await registering(parts)
    assert parts.journey.registration.suggested_partner(tx) is None


async def test_the_form_is_kept_as_typed(parts: JourneyParts) -> None:
    flow = parts.journey.registration
    tx = await registering(parts)
    assert flow.pending(tx).keys.idp_id == "suomifi"
    assert flow.catalogue is parts.journey.accounts.catalogue
    assert flow.draft(tx) == Draft("", "tessa@example.fi", ())
    typed = Draft("040", "x", ("school:tamk",))
    saved = await flow.save_draft(tx, typed)
    assert flow.draft(saved) == typed == flow.draft(await parts.reload(tx))
    nothing = await parts.tx(await parts.journey.begin(portal_params(), frozenset(), None))
    with pytest.raises(TransactionError):
        await flow.save_draft(nothing, typed)


async def test_a_login_waiting_without_a_draft_shows_what_the_idp_said(
    parts: JourneyParts,
) -> None:
    tx = await registering(parts)
    tx = await parts.journey._transactions.save(tx, replace(state_of(tx), draft=None))
    assert parts.journey.registration.draft(tx) == Draft("", "tessa@example.fi", ())


async def test_a_wrong_form_is_answered_field_by_field_and_sends_no_code(
    parts: JourneyParts,
) -> None:
    flow = parts.journey.registration
    tx = await registering(parts)
    wrong = replace(FILLED, email="no-at-sign")
    assert await flow.submit_registration(tx, wrong, "fi") == {
        "email": "registration.email.invalid"
    }
    assert parts.mail.sent == []
    assert flow.draft(await parts.reload(tx)) == wrong
    not_eligible = replace(FILLED, eligible=False)
    assert await flow.submit_registration(await parts.reload(tx), not_eligible, "fi") == {
        "eligible": "registration.eligible.missing"
    }
    assert parts.mail.sent == []
    assert state_of(await parts.reload(tx)).phase is Phase.REGISTERING


async def test_a_right_form_sends_the_code_to_the_address_in_the_persons_language(
    parts: JourneyParts,
) -> None:
    flow = parts.journey.registration
    tx = await registering(parts)
    assert await flow.submit_registration(tx, FILLED, "sv") == Redirect("/account/confirm")
    assert [(to, lang) for to, _, lang in parts.mail.sent] == [("tessa@example.fi", "sv")]
    state = state_of(await parts.reload(tx))
    assert (state.phase, state.code_address(), state.language) == (
        Phase.CONFIRMING,
        "tessa@example.fi",
        "sv",
    )
    assert await flow.resend_code(await parts.reload(tx), "en") == {}
    assert [(to, lang) for to, _, lang in parts.mail.sent][1:] == [("tessa@example.fi", "en")]


async def test_a_code_that_cannot_be_sent_is_said_on_the_form(parts: JourneyParts) -> None:
    flow = parts.journey.registration
    tx = await registering(parts)
    parts.mail.failing = True
    assert await flow.submit_registration(tx, FILLED, "fi") == {
        "email": "registration.email.not_sent"
    }
    assert state_of(await parts.reload(tx)).code_sent_to is None
    parts.mail.failing = False
    await flow.submit_registration(await parts.reload(tx), FILLED, "fi")
    parts.mail.failing = True
    assert await flow.resend_code(await parts.reload(tx), "fi") == {
        "email": "registration.email.not_sent"
    }


async def test_codes_are_limited_per_login(parts: JourneyParts) -> None:
    flow = parts.journey.registration
    tx = await registering(parts)
    await flow.submit_registration(tx, FILLED, "fi")
    for _ in range(MAX_SENDS - 1):
        assert await flow.resend_code(await parts.reload(tx), "fi") == {}
    too_many = {"email": "registration.email.too_many_codes"}
    assert await flow.resend_code(await parts.reload(tx), "fi") == too_many
    assert await flow.submit_registration(await parts.reload(tx), FILLED, "fi") == too_many


async def test_the_right_code_registers_the_account_and_answers_the_portal(
    parts: JourneyParts,
) -> None:
    flow = parts.journey.registration
    tx = await registering(parts)
    await flow.submit_registration(tx, FILLED, "sv")
    assert await flow.confirm_registration(await parts.reload(tx), "") == {
        "code": "registration.code.missing"
    }
    assert await flow.confirm_registration(await parts.reload(tx), "12345") == {
        "code": "registration.code.wrong"
    }
    done = await flow.confirm_registration(await parts.reload(tx), parts.mail.last_code())
    assert isinstance(done, Redirect)
    assert done.url.startswith(REDIRECT + "?code=") and done.session is not None
    assert (done.tx_id, done.remember_idp) == (None, None)
    account = await parts.store.accounts.get_account(done.session.sub)
    assert account is not None
    assert (account.email, account.phone, account.partners, account.language) == (
        "tessa@example.fi",
        "+358401234567",
        ("school:tamk",),
        "sv",
    )
    assert account.email_verified_at == parts.clock.now()
    assert done.session.claims["email_verified"] is True
    assert done.session.claims["name"] == "Tessa Testilä"
    with pytest.raises(TransactionError):
        await parts.reload(tx)


async def test_the_code_confirms_only_the_address_it_was_sent_to(parts: JourneyParts) -> None:
    flow = parts.journey.registration
    tx = await registering(parts)
    await flow.submit_registration(tx, FILLED, "fi")
    code = parts.mail.last_code()
    changed = await flow.save_draft(
        await parts.reload(tx), replace(FILLED, email="evil@example.fi")
    )
    assert await flow.confirm_registration(changed, code) == {"form": "registration.form.changed"}
    broken = await flow.save_draft(await parts.reload(tx), replace(FILLED, phone="12"))
    assert await flow.confirm_registration(broken, code) == {"form": "registration.form.changed"}
    unconfirmed = await flow.save_draft(await parts.reload(tx), replace(FILLED, eligible=False))
    assert await flow.confirm_registration(unconfirmed, code) == {
        "form": "registration.form.changed"
    }
    back = await flow.save_draft(await parts.reload(tx), FILLED)
    assert isinstance(await flow.confirm_registration(back, code), Redirect)


async def test_a_confirmation_without_a_language_registers_in_finnish(
    parts: JourneyParts,
) -> None:
    flow = parts.journey.registration
    tx = await registering(parts)
    await flow.submit_registration(tx, FILLED, "en")
    tx = await parts.reload(tx)
    tx = await parts.journey._transactions.save(tx, replace(state_of(tx), language=None))
    done = await flow.confirm_registration(tx, parts.mail.last_code())
    assert isinstance(done, Redirect) and done.session is not None
    account = await parts.store.accounts.get_account(done.session.sub)
    assert account is not None and account.language == "fi"


# -- accounts made --------------------------------------------------------------------------
async def test_register_links_the_other_routes_of_the_login_once(parts: JourneyParts) -> None:
    stage = parts.journey.accounts
    hus = replace(KEYS, link_hash="link-hus", person_hash=None, idp_id="hus", route="organisation")
    registration = Registration("+358401234567", "tessa@example.fi", ("school:tamk",))
    account = await stage.register(pending(), registration, [hus, KEYS, hus], "en")
    assert account.language == "en" and account.email_verified_at == parts.clock.now()
    for keys in (KEYS, hus):
        assert await stage.accounts.find(keys) == account
    linked = [e for e in await parts.store.audit.trail(account.account_id) if e.action == "linked"]
    assert [(e.route, e.changes) for e in linked] == [
        ("organisation", {"idp": "hus", "proof": "login by both routes"})
    ]
    default = await stage.register(
        pending(keys=replace(KEYS, link_hash="l2", person_hash="p2")), registration, []
    )
    assert default.language == "fi"


async def test_linking_a_route_that_is_another_accounts_is_refused(parts: JourneyParts) -> None:
    stage = parts.journey.accounts
    registration = Registration("+358401234567", "tessa@example.fi", ("school:tamk",))
    first = await stage.register(pending(), registration, [])
    other_keys = replace(KEYS, link_hash="l2", person_hash="p2")
    await stage.register(pending(keys=other_keys), registration, [])
    with pytest.raises(AccountLinkError, match=r"^route suomifi not linked: "):
        await stage.link_second_route(first, other_keys)


async def test_an_organisation_account_takes_what_its_idp_said_where_valid(
    parts: JourneyParts,
) -> None:
    stage = parts.journey.accounts
    hus = replace(KEYS, link_hash="link-hus", person_hash=None, idp_id="hus", route="organisation")
    good = await stage.register_automatically(pending(keys=hus), email_verified=True, language="sv")
    assert good is not None
    assert (good.phone, good.email, good.partners, good.language) == (
        "+358401234567",
        "tessa@example.fi",
        ("org:hus",),
        "sv",
    )
    assert good.email_verified_at == parts.clock.now()
    oys = replace(hus, link_hash="link-oys", idp_id="oys")
    odd = await stage.register_automatically(
        pending(keys=oys, claims={"phone_number": "12", "email": 5}),
        email_verified=False,
        language="fi",
    )
    assert odd is not None
    assert (odd.phone, odd.email, odd.partners, odd.email_verified_at) == (
        "",
        "",
        ("org:oys",),
        None,
    )
    suomifi = await stage.register_automatically(pending(), email_verified=True, language="fi")
    assert suomifi is None  # Suomi.fi is no partner organisation


async def test_an_organisation_with_two_catalogue_entries_is_partner_by_the_first(
    parts: JourneyParts,
) -> None:
    extra = PartnerOrganisationRecord(
        "org:hus-2", "organisation", {"fi": "HUS 2", "sv": "HUS 2", "en": "HUS 2"}, idp_id="hus"
    )
    base = parts.journey.accounts.catalogue
    stage = AccountStage(
        parts.journey.accounts.accounts,
        parts.journey.accounts.codes,
        Catalogue([*base._by_id.values(), extra]),
    )
    hus = replace(KEYS, link_hash="link-hus", person_hash=None, idp_id="hus", route="organisation")
    account = await stage.register_automatically(
        pending(keys=hus), email_verified=False, language="fi"
    )
    assert account is not None and account.partners == ("org:hus",)
    assert stage.first_draft(pending(keys=hus)).partners == ("org:hus",)


def test_an_accounts_claims_are_its_contact_details_and_partners(parts: JourneyParts) -> None:
    catalogue = parts.journey.accounts.catalogue
    account = AccountRecord(
        "acc",
        "+358401234567",
        "t@example.fi",
        ("org:hus", "municipality:091", "gone"),
        1.0,
        2.9,
        1.5,
        "sv",
    )
    hus = catalogue.get("org:hus")
    assert hus is not None
    assert account_claims(account, catalogue) == {
        "email": "t@example.fi",
        "email_verified": True,
        "phone_number": "+358401234567",
        "phone_number_verified": False,
        "updated_at": 2,
        "partner_organisations": [
            {"id": "org:hus", "kind": "organisation", "code": hus.code, "names": dict(hus.names)},
            {
                "id": "municipality:091",
                "kind": "municipality",
                "code": "091",
                "names": {"fi": "Helsinki", "sv": "Helsingfors", "en": "Helsinki"},
            },
            {"id": "gone", "kind": None, "code": None, "names": {}},
        ],
    }
    empty = replace(account, phone="", email="", partners=(), email_verified_at=None)
    assert account_claims(empty, catalogue) == {
        "email": None,
        "email_verified": None,
        "phone_number": None,
        "phone_number_verified": None,
        "updated_at": 2,
        "partner_organisations": [],
    }
    unverified = replace(account, email_verified_at=None)
    assert account_claims(unverified, catalogue)["email_verified"] is False
