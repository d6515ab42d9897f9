"""The login journey's decisions (`broker/journey/flow.py`) without HTTP: where each start,
choice and upstream answer leads, what the login keeps, and each refusal, on the objects the
broker wires (tests/journey/conftest.py). The flow tests prove the same through a browser's
requests; these name the decision that broke, in milliseconds."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from broker.accounts.catalogue import Catalogue
from broker.claims.identity import RawIdentity
from broker.errors import (
    AccountLinkError,
    AuthorizationRedirectError,
    LoginElsewhereError,
    LoginRequiredError,
    LoginUnavailableError,
    PortalRequirementError,
    TemporarilyUnavailableError,
    TransactionError,
    UnknownChoiceError,
    UnmetAuthenticationRequirementsError,
    UpstreamLoginRequiredError,
    UpstreamOfflineError,
    UpstreamRequirementError,
    UpstreamResponseError,
)
from broker.frontend.oidc import secrets
from broker.frontend.oidc.authorization import AuthorizationRequest
from broker.journey.completion import Redirect
from broker.journey.flow import HELD_SECONDS
from broker.journey.login_state import HeldAnswer, Phase, PortalView, state_of
from broker.journey.steps import Choices, JourneyMap, Step
from broker.notices.board import Notices
from broker.store.records import TransactionRecord, UpstreamSession
from broker.upstream.idp_files import load_registry
from broker.upstream.login_request import UpstreamLogin
from tests.journey.conftest import (
    ISSUER,
    REDIRECT,
    REPO_CONFIGS,
    T0,
    JourneyParts,
    portal_params,
    query,
)

TESSA, TEPPO = "010280-952L", "311299-999E"
LOA3 = "http://ftn.ficora.fi/2017/loa3"
HUS_ANSWER = RawIdentity(
    "hus",
    "https://hus.example/idp",
    "emp-1",
    {"name": "Maija Meikäläinen", "email": "maija@hus.fi", "phone_number": "040 123 4567"},
    acr="http://ftn.ficora.fi/2017/loa2",
)
HUS_URL = "https://hus.idp.example/login?n=1"
SUOMIFI_URL = "https://suomifi.idp.example/login?n=1"


def suomifi_answer(hetu: str = TESSA) -> RawIdentity:
    return RawIdentity(
        "suomifi",
        "http://127.0.0.1:8003/idp",
        hetu,
        {
            "urn:oid:1.2.246.21": hetu,
            "urn:oid:2.16.840.1.113730.3.1.241": "Tessa Testilä",
            "urn:oid:0.9.2342.19200300.100.1.3": "tessa@example.fi",
        },
        acr=LOA3,
        session=UpstreamSession(idp_id="suomifi", name_id="n", session_index="s"),
    )


async def begin(parts: JourneyParts, **changes: str) -> Redirect:
    return await parts.journey.begin(portal_params(**changes), frozenset(), None)


async def at_hus(parts: JourneyParts, **changes: str) -> TransactionRecord:
    """A portal's login sent to HUS by its hint."""
    await parts.add_portal()
    redirect = await begin(parts, idp_hint="hus", **changes)
    assert redirect.url == HUS_URL
    parts.connectors["hus"].answer = HUS_ANSWER
    return await parts.tx(redirect)


async def at_suomifi(parts: JourneyParts, **changes: str) -> tuple[TransactionRecord, str]:
    """A portal's login sent to Suomi.fi by its hint, and the RelayState it went with."""
    await parts.add_portal()
    redirect = await begin(parts, idp_hint="suomifi", **changes)
    n = len(parts.connectors["suomifi"].started)
    assert redirect.url == f"https://suomifi.idp.example/login?n={n}"
    parts.connectors["suomifi"].answer = suomifi_answer()
    relay = parts.connectors["suomifi"].started[-1].relay_state
    assert relay is not None
    return await parts.tx(redirect), relay


async def held(parts: JourneyParts, relay: str) -> str:
    """The SAML answer held at the ACS: the handle the posting browser got."""
    redirect = await parts.journey.hold_saml_response({"RelayState": relay, "SAMLResponse": "r"})
    assert redirect.url.startswith("/upstream/saml/continue?h=")
    assert (redirect.tx_id, redirect.session) == (None, None)
    return query(redirect.url)["h"]


async def continued(parts: JourneyParts, tx: TransactionRecord, relay: str) -> Redirect:
    """The SAML answer held at the ACS, then continued in the login's own browser."""
    handle = await held(parts, relay)
    return await parts.journey.saml_continue(await parts.reload(tx), handle)


async def assert_finished(parts: JourneyParts, tx: TransactionRecord) -> None:
    with pytest.raises(
        TransactionError, match=r"^login transaction not found or already finished$"
    ):
        await parts.reload(tx)


# -- from the portal -----------------------------------------------------------------------
async def test_a_login_without_a_hint_starts_at_the_role_page_with_the_portals_view(
    parts: JourneyParts,
) -> None:
    await parts.add_portal(
        client_name="Mielenterveystalo",
        policy_uri="https://portal.example.fi/privacy",
        routes=("organisation",),
        idps=("hus", "oys"),
    )
    redirect = await begin(parts)
    assert redirect == Redirect("/login/role", tx_id=redirect.tx_id)
    tx = await parts.tx(redirect)
    assert tx.client_id == "portal"
    assert AuthorizationRequest.from_json(tx.request).state == "st"
    state = state_of(tx)
    assert (state.phase, state.purpose) == (Phase.CHOOSING, "portal")
    assert state.portal == PortalView(
        "Mielenterveystalo", "https://portal.example.fi/privacy", ("organisation",), ("hus", "oys")
    )
    assert not any(c.started for c in parts.connectors.values())


async def test_a_hint_at_an_oidc_idp_goes_straight_there_with_what_the_portal_asked(
    parts: JourneyParts,
) -> None:
    await parts.add_portal()
    redirect = await begin(
        parts,
        idp_hint="hus",
        prompt="login",
        max_age="60",
        login_hint="maija@hus.fi",
        ui_locales="sv",
        acr_values=LOA3,
    )
    assert redirect == Redirect(HUS_URL, tx_id=redirect.tx_id)
    assert parts.connectors["hus"].started == [
        UpstreamLogin(
            redirect_uri=f"{ISSUER}/upstream/oidc/callback/hus",
            prompt=("login",),
            max_age=60,
            login_hint="maija@hus.fi",
            acr_values=(LOA3,),
            ui_locales="sv",
            relay_state=None,
        )
    ]
    tx = await parts.tx(redirect)
    state = state_of(tx)
    assert (state.phase, state.idp, state.upstream) == (Phase.UPSTREAM, "hus", {"n": 1})
    assert tx.relay_hash is None


async def test_a_saml_login_goes_with_a_fresh_relay_state_that_finds_only_its_login(
    parts: JourneyParts,
) -> None:
    tx, relay = await at_suomifi(parts)
    login = parts.connectors["suomifi"].started[0]
    assert login.redirect_uri == f"{ISSUER}/upstream/saml/acs"
    assert relay != tx.tx_id and len(relay) >= 20
    assert tx.relay_hash == secrets.hash_secret(relay)
    assert state_of(tx).upstream == {"n": 1}
    _, other_relay = await at_suomifi(parts)
    assert other_relay != relay


async def test_a_hint_at_an_idp_the_portal_does_not_offer_is_ignored(parts: JourneyParts) -> None:
    await parts.add_portal(idps=("suomifi", "oys"))
    redirect = await begin(parts, idp_hint="hus")
    assert redirect == Redirect("/login/role", tx_id=redirect.tx_id)
    assert not parts.connectors["hus"].started


async def test_an_unknown_hint_is_ignored(parts: JourneyParts) -> None:
    await parts.add_portal()
    redirect = await begin(parts, idp_hint="nosuch")
    assert redirect.url == "/login/role"


async def test_prompt_none_with_a_saml_hint_asks_the_idp_passively(parts: JourneyParts) -> None:
    tx, _ = await at_suomifi(parts, prompt="none")
    assert parts.connectors["suomifi"].started[0].prompt == ("none",)
    assert state_of(tx).idp == "suomifi"


@pytest.mark.parametrize("hint", [{"idp_hint": "hus"}, {}])
async def test_prompt_none_without_a_saml_hint_and_session_is_login_required(
    parts: JourneyParts, hint: dict[str, str]
) -> None:
    await parts.add_portal()
    with pytest.raises(AuthorizationRedirectError) as refused:
        await begin(parts, prompt="none", **hint)
    assert isinstance(refused.value.cause, LoginRequiredError)
    assert (refused.value.redirect_uri, refused.value.state) == (REDIRECT, "st")
    assert not parts.connectors["hus"].started


async def test_a_portal_whose_policy_offers_no_usable_idp_cannot_log_in(
    parts: JourneyParts,
) -> None:
    await parts.add_portal(idps=("nosuch",))
    with pytest.raises(
        LoginUnavailableError, match=r"^no role has any enabled IdP the portal offers$"
    ):
        await begin(parts)


@pytest.mark.parametrize(("scope", "target"), [("organisation", "hus"), ("route", "organisation")])
async def test_a_hint_at_an_offline_idp_goes_back_to_the_portal(
    parts: JourneyParts, scope: str, target: str
) -> None:
    await parts.add_portal()
    await parts.notice(scope, target)
    with pytest.raises(AuthorizationRedirectError) as refused:
        await begin(parts, idp_hint="hus")
    assert isinstance(refused.value.cause, TemporarilyUnavailableError)
    assert str(refused.value.cause) == "hus is offline for now"
    assert (refused.value.redirect_uri, refused.value.state) == (REDIRECT, "st")
    assert not parts.connectors["hus"].started


async def test_a_session_from_an_earlier_login_answers_the_portal_at_once(
    parts: JourneyParts,
) -> None:
    tx = await at_hus(parts)
    first = await parts.journey.upstream_callback(tx, {"code": "c", "state": "s"})
    assert first.session is not None
    again = await parts.journey.begin(portal_params(state="st2"), frozenset(), first.session.sid)
    assert (again.tx_id, again.session) == (None, None)
    assert again.url.startswith(REDIRECT + "?code=")
    assert query(again.url)["state"] == "st2"
    assert len(parts.connectors["hus"].started) == 1
    [*_, by_session] = await parts.store.login_events.export()
    assert (by_session.route, by_session.client_id, by_session.account_id) == (
        "sso",
        "portal",
        first.session.sub,
    )


async def test_a_session_by_an_idp_the_portal_does_not_offer_answers_nothing(
    parts: JourneyParts,
) -> None:
    tx = await at_hus(parts)
    first = await parts.journey.upstream_callback(tx, {"code": "c"})
    assert first.session is not None
    for policy in ({"idps": ("suomifi",)}, {"routes": ("personal",)}):
        await parts.add_portal("other", **policy)
        again = await parts.journey.begin(portal_params("other"), frozenset(), first.session.sid)
        assert again.url == "/login/role"
    await parts.add_portal("other", routes=("organisation",))
    again = await parts.journey.begin(portal_params("other"), frozenset(), first.session.sid)
    assert again.url.startswith(REDIRECT + "?code=")


@pytest.mark.parametrize(("fresh", "prompt"), [(True, ("login",)), (False, ())])
async def test_a_login_for_the_account_pages_has_no_portal(
    parts: JourneyParts, fresh: bool, prompt: tuple[str, ...]
) -> None:
    redirect = await parts.journey.begin_for_account("sv", then="/account/delete", fresh=fresh)
    assert redirect == Redirect("/login/role", tx_id=redirect.tx_id)
    tx = await parts.tx(redirect)
    request = AuthorizationRequest.from_json(tx.request)
    assert (request.client_id, request.redirect_uri, request.scope) == ("", "", ("openid",))
    assert (request.prompt, request.ui_locales, request.state) == (prompt, "sv", None)
    state = state_of(tx)
    assert (state.purpose, state.then, state.portal) == ("account", "/account/delete", PortalView())
    default = await parts.tx(await parts.journey.begin_for_account(None))
    assert state_of(default).then == "/account"
    assert AuthorizationRequest.from_json(default.request).prompt == ()


# -- the choice pages ------------------------------------------------------------------------
async def test_the_choices_lead_page_by_page_to_the_organisation(parts: JourneyParts) -> None:
    await parts.add_portal()
    tx = await parts.tx(await begin(parts))
    journey = parts.journey
    assert await journey.choose(tx, Step.ROLE, "professional") == Redirect("/login/route")
    tx = await parts.reload(tx)
    assert state_of(tx).choices == Choices("professional")
    assert await journey.choose(tx, Step.ROUTE, "organisation") == Redirect("/login/group")
    tx = await parts.reload(tx)
    group = "yliopistosairaanhoitopiirit"
    assert await journey.choose(tx, Step.GROUP, group) == Redirect("/login/organisation")
    tx = await parts.reload(tx)
    assert state_of(tx).choices == Choices("professional", "organisation", group)
    redirect = await journey.choose(tx, Step.ORGANISATION, "oys")
    assert redirect == Redirect("https://oys.idp.example/login?n=1", tx_id=tx.tx_id)
    assert state_of(await parts.reload(tx)).idp == "oys"


async def test_a_page_whose_earlier_answers_are_missing_shows_the_first_open_one(
    parts: JourneyParts,
) -> None:
    await parts.add_portal()
    tx = await parts.tx(await begin(parts))
    assert parts.journey.step_to_show(tx, Step.ROLE) is Step.ROLE
    assert parts.journey.step_to_show(tx, Step.GROUP) is Step.ROLE
    assert await parts.journey.choose(tx, Step.ORGANISATION, "hus") == Redirect("/login/role")
    assert not parts.connectors["hus"].started
    await parts.journey.choose(tx, Step.ROLE, "professional")
    tx = await parts.reload(tx)
    assert parts.journey.step_to_show(tx, Step.ROLE) is Step.ROLE  # going back is fine
    assert parts.journey.step_to_show(tx, Step.ROUTE) is Step.ROUTE
    assert parts.journey.step_to_show(tx, Step.ORGANISATION) is Step.ROUTE
    assert await parts.journey.choose(tx, Step.GROUP, "hyvinvointialueet") == Redirect(
        "/login/route"
    )
    assert state_of(await parts.reload(tx)).choices == Choices("professional")


async def test_choices_not_on_offer_are_refused(parts: JourneyParts) -> None:
    await parts.add_portal(routes=("organisation",))
    tx = await parts.tx(await begin(parts))
    with pytest.raises(UnknownChoiceError, match=r"^role 'nobody' not on offer$"):
        await parts.journey.choose(tx, Step.ROLE, "nobody")
    await parts.journey.choose(tx, Step.ROLE, "professional")
    tx = await parts.reload(tx)
    with pytest.raises(UnknownChoiceError, match=r"^route 'personal' not on offer$"):
        await parts.journey.choose(tx, Step.ROUTE, "personal")
    await parts.journey.choose(tx, Step.ROUTE, "organisation")
    tx = await parts.reload(tx)
    await parts.journey.choose(tx, Step.GROUP, "hyvinvointialueet")
    tx = await parts.reload(tx)
    for other in ("oys", "nosuch"):  # another group's, and none at all
        with pytest.raises(UnknownChoiceError, match=rf"^organisation '{other}' not on offer$"):
            await parts.journey.choose(tx, Step.ORGANISATION, other)
    assert not any(c.started for c in parts.connectors.values())


async def test_a_route_with_one_idp_of_its_own_goes_straight_there(parts: JourneyParts) -> None:
    await parts.add_portal()
    tx = await parts.tx(await begin(parts))
    await parts.journey.choose(tx, Step.ROLE, "professional")
    tx = await parts.reload(tx)
    redirect = await parts.journey.choose(tx, Step.ROUTE, "personal")
    assert redirect == Redirect(SUOMIFI_URL, tx_id=tx.tx_id)
    state = state_of(await parts.reload(tx))
    assert (state.choices.route, state.idp) == ("personal", "suomifi")


async def test_a_role_named_like_a_route_is_only_a_role(
    parts: JourneyParts, tmp_path: Path
) -> None:
    """Each step's ids are its own (journey.yaml may name a role and a route alike): the
    shortcut of a route with one IdP is taken at the route step only, never for a role."""
    configs = tmp_path / "idp_configs"
    shutil.copytree(REPO_CONFIGS, configs)
    journey_file = configs / "journey.yaml"
    text = journey_file.read_text()
    assert text.count("- id: professional") == 1
    journey_file.write_text(text.replace("- id: professional", "- id: personal"))
    registry = load_registry(configs, development=True)
    parts.journey.map = JourneyMap(lambda: registry)
    await parts.add_portal()
    tx = await parts.tx(await begin(parts))
    assert await parts.journey.choose(tx, Step.ROLE, "personal") == Redirect("/login/route")
    assert not parts.connectors["suomifi"].started
    state = state_of(await parts.reload(tx))
    assert (state.choices, state.idp) == (Choices("personal"), None)


async def test_an_offline_route_or_organisation_is_not_started(parts: JourneyParts) -> None:
    await parts.add_portal()
    await parts.notice("route", "personal")
    await parts.notice("organisation", "tyks")
    tx = await parts.tx(await begin(parts))
    await parts.journey.choose(tx, Step.ROLE, "professional")
    tx = await parts.reload(tx)
    with pytest.raises(UpstreamOfflineError) as offline:
        await parts.journey.choose(tx, Step.ROUTE, "personal")
    assert (str(offline.value), offline.value.route, offline.value.idp) == (
        "route 'personal' is offline",
        "personal",
        None,
    )
    assert state_of(await parts.reload(tx)).choices.route is None
    await parts.journey.choose(tx, Step.ROUTE, "organisation")
    tx = await parts.reload(tx)
    await parts.journey.choose(tx, Step.GROUP, "yliopistosairaanhoitopiirit")
    tx = await parts.reload(tx)
    with pytest.raises(UpstreamOfflineError) as offline:
        await parts.journey.choose(tx, Step.ORGANISATION, "tyks")
    assert (str(offline.value), offline.value.route, offline.value.idp) == (
        "tyks is offline",
        None,
        "tyks",
    )
    assert not parts.connectors["tyks"].started
    assert state_of(await parts.reload(tx)).idp is None


async def test_the_last_check_before_any_upstream_login_is_the_portals_policy(
    parts: JourneyParts,
) -> None:
    """Every way to an IdP checks the portal's policy first; the start itself checks it again."""
    await parts.add_portal(idps=("suomifi",))
    tx = await parts.tx(await begin(parts))
    hus = parts.registry.idp("hus")
    assert hus is not None
    with pytest.raises(UnknownChoiceError, match=r"^hus is not offered by the portal$"):
        await parts.journey._start_upstream(tx, hus)
    assert not parts.connectors["hus"].started


async def test_a_journey_without_a_notice_board_has_every_route_online(
    parts: JourneyParts,
) -> None:
    await parts.notice("organisation", "hus")
    parts.journey.notices = None
    assert await parts.journey.current_notices() == Notices()
    tx = await at_hus(parts)
    assert state_of(tx).idp == "hus"


async def test_the_email_shortcut_goes_only_to_an_offered_organisation_of_that_domain(
    parts: JourneyParts,
) -> None:
    await parts.add_portal()
    await parts.add_portal("suomifi-only", idps=("suomifi",))
    tx = await parts.tx(await begin(parts))
    assert await parts.journey.choose_by_email(tx, "maija@example.fi") is None
    limited = await parts.tx(
        await parts.journey.begin(portal_params("suomifi-only"), frozenset(), None)
    )
    assert await parts.journey.choose_by_email(limited, "maija@hus.fi") is None
    redirect = await parts.journey.choose_by_email(tx, "maija@hus.fi")
    assert redirect == Redirect(HUS_URL, tx_id=tx.tx_id)
    assert len(parts.connectors["hus"].started) == 1


async def test_a_remembered_organisation_is_started_only_if_still_offered(
    parts: JourneyParts,
) -> None:
    await parts.add_portal(idps=("hus", "suomifi"))
    tx = await parts.tx(await begin(parts))
    for gone in (None, "nosuch", "oys"):
        assert await parts.journey.choose_remembered(tx, gone) == Redirect("/login/role")
    assert not any(c.started for c in parts.connectors.values())
    assert await parts.journey.choose_remembered(tx, "hus") == Redirect(HUS_URL, tx_id=tx.tx_id)


async def test_remembering_the_choice_is_kept_in_the_login(parts: JourneyParts) -> None:
    await parts.add_portal()
    tx = await parts.tx(await begin(parts))
    assert not state_of(tx).remember
    saved = await parts.journey.remember_choice(tx)
    assert state_of(saved).remember and state_of(await parts.reload(tx)).remember


# -- the upstream answer -----------------------------------------------------------------------
async def test_an_organisation_login_without_an_account_makes_one_and_answers_the_portal(
    parts: JourneyParts,
) -> None:
    tx = await at_hus(parts, ui_locales="sv en")
    redirect = await parts.journey.oidc_callback(tx, "hus", {"code": "c", "state": "s"})
    assert parts.connectors["hus"].finished == [({"code": "c", "state": "s"}, {"n": 1})]
    assert redirect.url.startswith(REDIRECT + "?code=") and redirect.tx_id is None
    assert redirect.remember_idp == "hus" and redirect.session is not None
    await assert_finished(parts, tx)
    account = await parts.store.accounts.get_account(redirect.session.sub)
    assert account is not None
    assert (account.email, account.phone, account.partners) == (
        "maija@hus.fi",
        "+358401234567",
        ("org:hus",),
    )
    assert (account.email_verified_at, account.language) == (None, "sv")
    assert redirect.session.claims["email"] == "maija@hus.fi"
    assert redirect.session.acr == HUS_ANSWER.acr


async def test_an_organisation_whose_idp_verifies_email_makes_a_verified_account(
    parts: JourneyParts,
) -> None:
    hus = parts.registry.idp("hus")
    assert hus is not None
    parts.registry._idps["hus"] = hus.model_copy(update={"verifies_email": True})  # type: ignore[attr-defined]
    redirect = await parts.journey.upstream_callback(await at_hus(parts), {})
    assert redirect.session is not None
    account = await parts.store.accounts.get_account(redirect.session.sub)
    assert account is not None and account.email_verified_at == parts.clock.now()


async def test_the_next_login_finds_the_account(parts: JourneyParts) -> None:
    tx = await at_hus(parts)
    first = await parts.journey.upstream_callback(tx, {})
    tx = await parts.tx(await begin(parts, idp_hint="hus", prompt="login"))
    second = await parts.journey.upstream_callback(tx, {})
    assert first.session is not None and second.session is not None
    assert second.session.sub == first.session.sub
    assert (second.remember_idp, second.tx_id) == ("hus", None)
    assert second.url.startswith(REDIRECT + "?code=")


async def test_an_answer_at_another_idps_redirect_uri_is_refused(parts: JourneyParts) -> None:
    tx = await at_hus(parts)
    with pytest.raises(
        UpstreamResponseError, match=r"^lshp: callback for a login sent to another IdP$"
    ):
        await parts.journey.oidc_callback(tx, "lshp", {"code": "c"})
    assert parts.connectors["hus"].finished == parts.connectors["lshp"].finished == []


async def test_an_answer_for_a_login_that_went_nowhere_is_refused(parts: JourneyParts) -> None:
    await parts.add_portal()
    tx = await parts.tx(await begin(parts))
    with pytest.raises(
        TransactionError, match=r"^callback for a transaction that started no upstream login$"
    ):
        await parts.journey.upstream_callback(tx, {"code": "c"})
    with pytest.raises(UpstreamResponseError):
        await parts.journey.oidc_callback(tx, "hus", {"code": "c"})
    taken = await parts.journey._transactions.save(  # an IdP since removed from the files
        tx, replace(state_of(tx), idp="gone", upstream={"n": 1})
    )
    with pytest.raises(
        TransactionError, match=r"^callback for a transaction that started no upstream login$"
    ):
        await parts.journey.upstream_callback(taken, {"code": "c"})


async def test_login_required_upstream_after_prompt_none_is_login_required_for_the_portal(
    parts: JourneyParts,
) -> None:
    await parts.add_portal()
    await parts.notice("organisation", "nothing")  # an unrelated notice changes nothing
    tx = await parts.tx(await begin(parts, idp_hint="suomifi", prompt="none"))
    tx = await parts.journey._transactions.save(tx, replace(state_of(tx), idp="hus"))
    parts.connectors["hus"].answer = UpstreamLoginRequiredError("no session")
    with pytest.raises(AuthorizationRedirectError) as refused:
        await parts.journey.upstream_callback(tx, {})
    assert isinstance(refused.value.cause, LoginRequiredError)
    assert str(refused.value.cause) == "no session at the IdP"
    assert (refused.value.redirect_uri, refused.value.state) == (REDIRECT, "st")
    await assert_finished(parts, tx)


async def test_login_required_upstream_otherwise_is_the_page(parts: JourneyParts) -> None:
    tx = await at_hus(parts)
    error = UpstreamLoginRequiredError("no session")
    parts.connectors["hus"].answer = error
    with pytest.raises(UpstreamLoginRequiredError) as raised:
        await parts.journey.upstream_callback(tx, {})
    assert raised.value is error
    assert state_of(await parts.reload(tx)).idp == "hus"  # the login stays open


async def test_an_answer_below_the_portals_requirements_offers_the_way_back(
    parts: JourneyParts,
) -> None:
    tx = await at_hus(parts)
    parts.connectors["hus"].answer = UpstreamRequirementError("acr loa2 below loa3")
    with pytest.raises(PortalRequirementError) as refused:
        await parts.journey.upstream_callback(tx, {})
    assert (str(refused.value), refused.value.portal) == ("acr loa2 below loa3", "Portal portal")
    tx = await parts.reload(tx)
    assert state_of(tx).unmet
    back = await parts.journey.return_unmet(tx)
    assert isinstance(back.cause, UnmetAuthenticationRequirementsError)
    assert str(back.cause) == "the login did not meet the requirements"
    assert (back.redirect_uri, back.state) == (REDIRECT, "st")
    await assert_finished(parts, tx)


async def test_only_a_refused_login_returns_unmet(parts: JourneyParts) -> None:
    tx = await at_hus(parts)
    with pytest.raises(TransactionError, match=r"^no refused login to return to the portal$"):
        await parts.journey.return_unmet(tx)
    assert state_of(await parts.reload(tx)).idp == "hus"


async def test_an_account_pages_login_below_requirements_is_the_idps_refusal(
    parts: JourneyParts,
) -> None:
    tx = await parts.tx(await parts.journey.begin_for_account(None))
    assert await parts.journey.choose_remembered(tx, "hus") == Redirect(HUS_URL, tx_id=tx.tx_id)
    error = UpstreamRequirementError("acr too low")
    parts.connectors["hus"].answer = error
    with pytest.raises(UpstreamRequirementError) as raised:
        await parts.journey.upstream_callback(await parts.reload(tx), {})
    assert raised.value is error
    assert not state_of(await parts.reload(tx)).unmet


async def test_an_account_pages_login_ends_on_its_page(parts: JourneyParts) -> None:
    tx = await parts.tx(await parts.journey.begin_for_account(None, then="/account/delete"))
    await parts.journey.choose_remembered(tx, "hus")
    parts.connectors["hus"].answer = HUS_ANSWER
    redirect = await parts.journey.upstream_callback(await parts.reload(tx), {})
    assert (redirect.url, redirect.remember_idp) == ("/account/delete", "hus")
    assert redirect.session is not None


# -- SAML: held at the ACS, continued in the browser that began the login ----------------------
async def test_a_saml_answer_is_held_then_continued_with_handle_and_login(
    parts: JourneyParts,
) -> None:
    tx, relay = await at_suomifi(parts, ui_locales="en")
    handle = await held(parts, relay)
    assert parts.connectors["suomifi"].finished == [
        ({"RelayState": relay, "SAMLResponse": "r"}, {"n": 1})
    ]
    tx = await parts.reload(tx)
    state = state_of(tx)
    assert tx.relay_hash is None and state.upstream is None
    assert state.held is not None and state.held.at == parts.clock.now()
    assert state.held.handle_hash == secrets.hash_secret(handle) != handle
    with pytest.raises(TransactionError, match=r"^SAML answer for no login waiting for one$"):
        await held(parts, relay)  # the RelayState is spent
    parts.clock.advance(HELD_SECONDS)
    redirect = await parts.journey.saml_continue(tx, handle)
    assert redirect == Redirect("/account/register", tx_id=tx.tx_id, remember_idp="suomifi")
    state = state_of(await parts.reload(tx))
    assert (state.phase, state.held) == (Phase.REGISTERING, None)
    assert state.pending_login().claims["name"] == "Tessa Testilä"


async def test_a_held_answer_waits_no_longer_than_its_time(parts: JourneyParts) -> None:
    tx, relay = await at_suomifi(parts)
    handle = await held(parts, relay)
    parts.clock.advance(HELD_SECONDS + 1)
    with pytest.raises(TransactionError, match=r"^held SAML answer expired$"):
        await parts.journey.saml_continue(await parts.reload(tx), handle)


async def test_a_held_answer_goes_only_with_its_handle_and_only_once(parts: JourneyParts) -> None:
    tx, relay = await at_suomifi(parts)
    with pytest.raises(
        LoginElsewhereError, match=r"^no SAML answer is held for this browser's login$"
    ):
        await parts.journey.saml_continue(tx, "anything")
    handle = await held(parts, relay)
    with pytest.raises(LoginElsewhereError, match=r"^SAML answer continued without its handle$"):
        await parts.journey.saml_continue(await parts.reload(tx), handle + "x")
    with pytest.raises(
        LoginElsewhereError, match=r"^no SAML answer is held for this browser's login$"
    ):
        await parts.journey.saml_continue(await parts.reload(tx), handle)


async def test_a_saml_answer_for_an_oidc_login_is_refused(parts: JourneyParts) -> None:
    tx = await at_hus(parts)
    await parts.journey._transactions.expect_answer(tx, "relay", state_of(tx))
    with pytest.raises(
        TransactionError, match=r"^SAML answer for a login that went to an OIDC IdP$"
    ):
        await parts.journey.hold_saml_response({"RelayState": "relay"})
    assert parts.connectors["hus"].finished == []
    with pytest.raises(TransactionError, match=r"^SAML answer for no login waiting for one$"):
        await parts.journey.hold_saml_response({})


async def test_saml_no_passive_after_prompt_none_is_login_required_in_the_browser(
    parts: JourneyParts,
) -> None:
    tx, relay = await at_suomifi(parts, prompt="none")
    parts.connectors["suomifi"].answer = UpstreamLoginRequiredError("NoPassive")
    handle = await held(parts, relay)
    state = state_of(await parts.reload(tx))
    assert state.held is not None and state.held.login_required and state.held.pending is None
    with pytest.raises(AuthorizationRedirectError) as refused:
        await parts.journey.saml_continue(await parts.reload(tx), handle)
    assert isinstance(refused.value.cause, LoginRequiredError)
    assert (refused.value.redirect_uri, refused.value.state) == (REDIRECT, "st")
    await assert_finished(parts, tx)


async def test_saml_no_passive_otherwise_is_the_page_at_once(parts: JourneyParts) -> None:
    tx, relay = await at_suomifi(parts)
    parts.connectors["suomifi"].answer = UpstreamLoginRequiredError("NoPassive")
    with pytest.raises(UpstreamLoginRequiredError):
        await held(parts, relay)
    assert state_of(await parts.reload(tx)).held is None


async def test_a_saml_answer_below_requirements_offers_the_way_back(parts: JourneyParts) -> None:
    tx, relay = await at_suomifi(parts)
    parts.connectors["suomifi"].answer = UpstreamRequirementError("loa2 below loa3")
    with pytest.raises(PortalRequirementError, match=r"^loa2 below loa3$"):
        await held(parts, relay)
    assert state_of(await parts.reload(tx)).unmet


async def test_a_held_answer_without_a_login_is_login_required_only_after_prompt_none(
    parts: JourneyParts,
) -> None:
    tx, _ = await at_suomifi(parts)
    required = HeldAnswer(secrets.hash_secret("k"), parts.clock.now(), login_required=True)
    await parts.journey._transactions.expect_answer(tx, None, state_of(tx).answer_held(required))
    with pytest.raises(
        UpstreamLoginRequiredError, match=r"^the IdP needs the person's interaction$"
    ):
        await parts.journey.saml_continue(await parts.reload(tx), "k")
    assert state_of(await parts.reload(tx)).idp == "suomifi"
    empty = HeldAnswer(secrets.hash_secret("e"), parts.clock.now())  # holds no login at all
    await parts.journey._transactions.expect_answer(tx, None, state_of(tx).answer_held(empty))
    with pytest.raises(UpstreamLoginRequiredError):  # not a login without an identity
        await parts.journey.saml_continue(await parts.reload(tx), "e")


# -- the account stage -------------------------------------------------------------------------
async def test_a_personal_login_without_an_account_goes_to_the_form_prefilled(
    parts: JourneyParts,
) -> None:
    tx, relay = await at_suomifi(parts)
    redirect = await continued(parts, tx, relay)
    assert redirect == Redirect("/account/register", tx_id=tx.tx_id, remember_idp="suomifi")
    state = state_of(await parts.reload(tx))
    assert state.phase is Phase.REGISTERING and state.others == ()
    assert parts.journey.registration.draft(await parts.reload(tx)).email == "tessa@example.fi"


async def test_an_organisation_that_requires_the_form_sends_its_people_there(
    parts: JourneyParts,
) -> None:
    hus = parts.registry.idp("hus")
    assert hus is not None
    parts.registry._idps["hus"] = hus.model_copy(update={"registration": "required"})  # type: ignore[attr-defined]
    tx = await at_hus(parts)
    redirect = await parts.journey.upstream_callback(tx, {})
    assert redirect == Redirect("/account/register", tx_id=tx.tx_id, remember_idp="hus")


async def test_an_organisation_outside_the_catalogue_registers_on_the_form(
    parts: JourneyParts,
) -> None:
    catalogue = parts.journey.accounts.catalogue
    others = [o for o in catalogue._by_id.values() if o.idp_id != "hus"]
    parts.journey.accounts.catalogue = Catalogue(others)
    tx = await at_hus(parts)
    redirect = await parts.journey.upstream_callback(tx, {})
    assert redirect == Redirect("/account/register", tx_id=tx.tx_id, remember_idp="hus")


async def test_the_register_entry_goes_by_personal_identification(parts: JourneyParts) -> None:
    await parts.add_portal()
    tx = await parts.tx(await begin(parts))
    redirect = await parts.journey.register_explicitly(tx)
    assert redirect == Redirect(SUOMIFI_URL, tx_id=tx.tx_id)
    state = state_of(await parts.reload(tx))
    assert state.register and state.choices == Choices("professional", "personal")


async def test_the_register_entry_for_someone_with_an_account_ends_on_the_account_page(
    parts: JourneyParts,
) -> None:
    tx, relay = await at_suomifi(parts)
    await continued(parts, tx, relay)
    await _register(parts, await parts.reload(tx))
    tx = await parts.tx(await begin(parts))
    await parts.journey.register_explicitly(tx)
    relay = parts.connectors["suomifi"].started[-1].relay_state or ""
    redirect = await continued(parts, tx, relay)
    assert (redirect.url, redirect.remember_idp) == ("/account", "suomifi")
    assert redirect.session is not None


async def test_the_register_entry_for_someone_without_one_goes_to_the_form_after_any_route(
    parts: JourneyParts,
) -> None:
    await parts.add_portal()
    tx = await parts.tx(await begin(parts))
    tx = await parts.journey._transactions.save(tx, state_of(tx).registering_explicitly("x"))
    assert await parts.journey.choose_remembered(tx, "hus") == Redirect(HUS_URL, tx_id=tx.tx_id)
    parts.connectors["hus"].answer = HUS_ANSWER
    redirect = await parts.journey.upstream_callback(await parts.reload(tx), {})
    assert redirect == Redirect("/account/register", tx_id=tx.tx_id, remember_idp="hus")


async def _register(parts: JourneyParts, tx: TransactionRecord) -> Redirect:
    flow = parts.journey.registration
    draft = replace(flow.draft(tx), phone="040 765 4321", partners=("school:tamk",), eligible=True)
    assert await flow.submit_registration(tx, draft, "fi") == Redirect("/account/confirm")
    done = await flow.confirm_registration(await parts.reload(tx), parts.mail.last_code())
    assert isinstance(done, Redirect)
    return done


async def test_i_already_have_an_account_links_this_route_to_the_one_found(
    parts: JourneyParts,
) -> None:
    hus_tx = await at_hus(parts)
    first = await parts.journey.upstream_callback(hus_tx, {})
    assert first.session is not None
    tx, relay = await at_suomifi(parts)
    await continued(parts, tx, relay)
    back = await parts.journey.registration.link_by_other_route(await parts.reload(tx))
    assert back == Redirect("/login/role")  # the hint chose no role
    tx = await parts.reload(tx)
    assert await parts.journey.choose_remembered(tx, "hus") == Redirect(
        "https://hus.idp.example/login?n=2", tx_id=tx.tx_id
    )
    redirect = await parts.journey.upstream_callback(await parts.reload(tx), {})
    assert redirect.session is not None and redirect.session.sub == first.session.sub
    assert redirect.remember_idp == "hus"
    tx = await parts.tx(await begin(parts, idp_hint="suomifi"))
    relay = parts.connectors["suomifi"].started[-1].relay_state or ""
    again = await continued(parts, tx, relay)
    assert again.session is not None and again.session.sub == first.session.sub


async def test_linking_a_route_of_another_person_is_refused(parts: JourneyParts) -> None:
    await parts.add_portal()
    tx = await parts.tx(await begin(parts))
    await parts.journey.choose(tx, Step.ROLE, "professional")
    await parts.journey.choose(await parts.reload(tx), Step.ROUTE, "personal")
    parts.connectors["suomifi"].answer = suomifi_answer()
    await continued(parts, tx, parts.connectors["suomifi"].started[-1].relay_state or "")
    back = await parts.journey.registration.link_by_other_route(await parts.reload(tx))
    assert back == Redirect("/login/route")
    await parts.journey.choose(await parts.reload(tx), Step.ROUTE, "personal")
    parts.connectors["suomifi"].answer = suomifi_answer(TEPPO)
    relay = parts.connectors["suomifi"].started[-1].relay_state or ""
    with pytest.raises(
        AccountLinkError, match=r"^route suomifi not linked: the logins are of different people$"
    ):
        await continued(parts, tx, relay)


async def test_linking_when_neither_login_has_an_account_registers_both(
    parts: JourneyParts,
) -> None:
    tx, relay = await at_suomifi(parts)
    await continued(parts, tx, relay)
    await parts.journey.registration.link_by_other_route(await parts.reload(tx))
    await parts.journey.choose_remembered(await parts.reload(tx), "hus")
    parts.connectors["hus"].answer = HUS_ANSWER
    redirect = await parts.journey.upstream_callback(await parts.reload(tx), {})
    assert redirect == Redirect("/account/register", tx_id=tx.tx_id, remember_idp="hus")
    state = state_of(await parts.reload(tx))
    assert state.link_failed and len(state.others) == 1 and state.others[0].idp_id == "suomifi"
    done = await _register(parts, await parts.reload(tx))
    assert done.session is not None
    tx = await parts.tx(await begin(parts, idp_hint="suomifi"))
    relay = parts.connectors["suomifi"].started[-1].relay_state or ""
    again = await continued(parts, tx, relay)
    assert again.session is not None and again.session.sub == done.session.sub


async def test_the_register_entry_without_a_personal_route_is_refused(
    parts: JourneyParts,
) -> None:
    await parts.add_portal()
    tx = await parts.tx(await begin(parts))
    journey = parts.registry.journey
    parts.registry.journey = journey.model_copy(  # type: ignore[misc]
        update={
            "roles": tuple(r.model_copy(update={"routes": ["organisation"]}) for r in journey.roles)
        }
    )
    with pytest.raises(
        UnknownChoiceError, match=r"^no personal identification route to register through$"
    ):
        await parts.journey.register_explicitly(tx)


async def test_an_account_pages_login_to_anywhere_else_ends_on_the_account_page(
    parts: JourneyParts,
) -> None:
    """`then` is checked where the login begins too; the end checks it again."""
    tx = await parts.tx(await parts.journey.begin_for_account(None, then="https://evil.example/"))
    await parts.journey.choose_remembered(tx, "hus")
    parts.connectors["hus"].answer = HUS_ANSWER
    redirect = await parts.journey.upstream_callback(await parts.reload(tx), {})
    assert redirect.url == "/account"


async def test_the_session_keeps_the_idps_session_and_time_and_the_audit_who_and_how(
    parts: JourneyParts,
) -> None:
    tx = await parts.tx(await parts.journey.begin_for_account(None))
    await parts.journey.choose_remembered(tx, "hus")
    upstream = UpstreamSession("hus", "emp-1", session_index="s-1")
    parts.connectors["hus"].answer = replace(HUS_ANSWER, auth_time=T0 - 30, session=upstream)
    redirect = await parts.journey.upstream_callback(await parts.reload(tx), {})
    assert redirect.session is not None
    session = await parts.store.sessions.get(redirect.session.sid)
    assert session is not None and session.auth_time == T0 - 30
    assert await parts.store.sessions.get_upstream_session(session.sid) == upstream
    [event] = await parts.store.login_events.export()
    assert (event.account_id, event.acr) == (session.sub, HUS_ANSWER.acr)
    assert event.account_id
