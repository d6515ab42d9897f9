"""The journey's side of logging out without HTTP (`logout.py`): /end_session's decisions (ask
first, end the session, where the browser goes), the probe of an IdP's single-logout endpoint,
the refusals of a LogoutResponse that answers no logout the broker asked for, and SAML single
logout itself with real signed messages: the forged IdP of tests/upstream/saml (its metadata
key), a real SAMLConnector and the SP's key pair; only the probe's HTTP is a MockTransport.
Through real servers: tests/flows/test_suomifi_logout.py."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from broker.errors import UpstreamLogoutError
from broker.journey.logout import (
    PROBE_TIMEOUT_SECONDS,
    AskFirst,
    LoggedOut,
    LogoutRedirect,
    LogoutTarget,
    RPLogout,
    SPSigner,
    UpstreamLogouts,
)
from broker.store.records import SessionRecord, UpstreamLogout, UpstreamSession
from broker.upstream.saml.connector import SAMLConnector
from broker.upstream.saml.logout import MESSAGE_LIFETIME
from broker.upstream.saml.pysaml2 import samlp
from broker.upstream.saml.redirect_binding import encode
from broker.upstream.saml.sp import ServiceProvider
from tests.journey.conftest import ISSUER, T0, JourneyParts
from tests.upstream.conftest import IDP_ENTITY_ID, SP_ENTITY_ID, make_connector
from tests.upstream.saml.replays import Replays
from tests.upstream.saml.saml_forge import SUCCESS, TRANSIENT, Forge, instant
from tests.upstream.saml.test_logout import (
    IDP_SLO,
    IDP_SLO_RESPONSES,
    PARTIAL,
    SLO_URL,
    logout_request,
    logout_response,
    metadata_with,
    private_key,
    read_back,
    redirect_service,
    written,
)

LOGGED_OUT = "https://portal.example.fi/logged-out"


@dataclass
class StubLogouts:
    """The IdPs' single logout, as far as /end_session sees it."""

    begun: list[tuple[str, LogoutTarget]] = field(default_factory=list)

    async def begin(self, sid: str, target: LogoutTarget) -> LogoutRedirect | None:
        self.begun.append((sid, target))
        return LogoutRedirect("https://suomifi.example/slo?SAMLRequest=x", "suomifi")


async def session(parts: JourneyParts) -> SessionRecord:
    return await parts.journey._provider.sessions.start(
        "acc", acr=None, amr=(), claims={"idp": "suomifi"}, auth_time=T0
    )


def rp_logout(parts: JourneyParts, logouts: StubLogouts) -> RPLogout:
    return RPLogout(parts.journey._provider, lambda: logouts)  # type: ignore[arg-type,return-value]


def hint(parts: JourneyParts, sid: str) -> str:
    claims = {"iss": ISSUER, "aud": "portal", "sid": sid, "sub": "x", "exp": T0 - 1}
    return parts.journey._provider.keys.sign_jwt(claims, "RS256")


PARAMS = {
    "client_id": "portal",
    "post_logout_redirect_uri": LOGGED_OUT,
    "state": "s1",
    "ui_locales": "sv",
}


async def test_a_logout_without_a_session_goes_straight_to_the_portal(parts: JourneyParts) -> None:
    await parts.add_portal(post_logout_redirect_uris=(LOGGED_OUT,))
    logouts = StubLogouts()
    done = await rp_logout(parts, logouts).end_session(PARAMS, None, confirmed=False)
    target = LogoutTarget(LOGGED_OUT, "s1", "Portal portal", "sv")
    assert done == LoggedOut(target, None)
    assert logouts.begun == []


async def test_a_logout_by_another_page_asks_the_person_first(parts: JourneyParts) -> None:
    await parts.add_portal(post_logout_redirect_uris=(LOGGED_OUT,))
    sso = await session(parts)
    logout = rp_logout(parts, StubLogouts())
    assert await logout.end_session(PARAMS, sso.sid, confirmed=False) == AskFirst(
        "Portal portal", "sv"
    )
    assert await logout.end_session({}, sso.sid, confirmed=False) == AskFirst(None, None)
    other = await session(parts)
    hinted = {"id_token_hint": hint(parts, other.sid)}
    assert await logout.end_session(hinted, sso.sid, confirmed=False) == AskFirst(
        "Portal portal", None
    )
    assert await parts.journey._provider.sessions.active(sso.sid) == sso


@pytest.mark.parametrize("by", ["confirmed", "hint"])
async def test_a_confirmed_or_hinted_logout_ends_the_session_then_asks_the_idp(
    parts: JourneyParts, by: str
) -> None:
    await parts.add_portal(post_logout_redirect_uris=(LOGGED_OUT,))
    sso = await session(parts)
    logouts = StubLogouts()
    params = dict(PARAMS)
    if by == "hint":
        params["id_token_hint"] = hint(parts, sso.sid)
    done = await rp_logout(parts, logouts).end_session(params, sso.sid, confirmed=by == "confirmed")
    target = LogoutTarget(LOGGED_OUT, "s1", "Portal portal", "sv")
    assert done == LoggedOut(
        target, LogoutRedirect("https://suomifi.example/slo?SAMLRequest=x", "suomifi")
    )
    assert logouts.begun == [(sso.sid, target)]
    assert await parts.journey._provider.sessions.active(sso.sid) is None


def test_the_target_round_trips_through_json() -> None:
    target = LogoutTarget(LOGGED_OUT, "s1", "Portal", "sv")
    assert target.to_json() == {
        "redirect_uri": LOGGED_OUT,
        "state": "s1",
        "client_name": "Portal",
        "ui_locales": "sv",
    }
    assert LogoutTarget.from_json({**target.to_json(), "extra": 1}) == target
    assert LogoutTarget.from_json({}) == LogoutTarget()


def upstream_logouts(
    parts: JourneyParts, handler: httpx.MockTransport | None = None
) -> UpstreamLogouts:
    http = httpx.AsyncClient(  # a shared client that follows redirects: the probe must not
        transport=handler or httpx.MockTransport(lambda r: httpx.Response(200)),
        follow_redirects=True,
    )
    return UpstreamLogouts(
        parts.journey._provider,
        parts.clock,
        http,
        {},
        None,
        slo_url=ISSUER + "/upstream/saml/slo",
        ttl=600,
        clock_skew=60,
    )


@pytest.mark.parametrize(
    ("answer", "answers"),
    [(200, True), (302, True), (405, True), (500, True), (502, False), (503, False), (504, False)],
)
async def test_an_slo_endpoint_counts_as_up_unless_a_gateway_says_it_is_down(
    parts: JourneyParts, answer: int, answers: bool
) -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(answer, headers={"location": "https://elsewhere.example/"})

    logouts = upstream_logouts(parts, httpx.MockTransport(handle))
    assert await logouts._answers("https://idp.example/slo") is answers
    [request] = seen  # a redirect is not followed
    assert (request.method, str(request.url)) == ("HEAD", "https://idp.example/slo")
    assert request.extensions["timeout"] == dict.fromkeys(
        ("connect", "read", "write", "pool"), PROBE_TIMEOUT_SECONDS
    )


async def test_an_slo_endpoint_that_does_not_answer_is_down(parts: JourneyParts) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    assert (
        await upstream_logouts(parts, httpx.MockTransport(refuse))._answers("https://x/") is False
    )


async def test_without_saml_idps_there_is_nobody_to_ask(parts: JourneyParts) -> None:
    logouts = upstream_logouts(parts)
    assert not logouts.enabled
    sso = await session(parts)
    assert await logouts.begin(sso.sid, LogoutTarget()) is None


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def message(kind: str, relay: str) -> str:
    """A well-formed, signed HTTP-Redirect query (signed by nobody the broker knows)."""
    url = encode("https://broker.example.fi/slo", kind, "<x/>", relay, KEY)
    return url.partition("?")[2]


@pytest.mark.parametrize("query", ["", "SAMLResponse=x", "SAMLRequest=a&SAMLResponse=b"])
async def test_a_malformed_slo_message_is_refused(parts: JourneyParts, query: str) -> None:
    with pytest.raises(UpstreamLogoutError, match=r"^SLO message refused: "):
        await upstream_logouts(parts).finish(query)
    with pytest.raises(UpstreamLogoutError, match=r"^SLO message refused: "):
        await upstream_logouts(parts).answer_idp(query)


async def test_a_logout_response_for_no_pending_logout_is_refused(parts: JourneyParts) -> None:
    logouts = upstream_logouts(parts)
    pending = UpstreamLogout("relay-1", "suomifi", "_r1", {"state": "s"}, T0 - 10, T0 + 1)
    await parts.store.sessions.put_upstream_logout(pending)
    for relay in ("nosuch", ""):
        with pytest.raises(
            UpstreamLogoutError, match=r"^LogoutResponse for no logout the broker is waiting for$"
        ):
            await logouts.finish(message("SAMLResponse", relay))
    parts.clock.advance(1)
    with pytest.raises(
        UpstreamLogoutError, match=r"^LogoutResponse for no logout the broker is waiting for$"
    ):
        await logouts.finish(message("SAMLResponse", "relay-1"))


async def test_a_response_from_an_idp_no_longer_configured_ends_the_logout_unchecked(
    parts: JourneyParts,
) -> None:
    logouts = upstream_logouts(parts)
    target = LogoutTarget(LOGGED_OUT, "s1", "Portal", "fi")
    pending = UpstreamLogout("relay-1", "gone", "_r1", target.to_json(), T0 - 10, T0 + 1)
    await parts.store.sessions.put_upstream_logout(pending)
    assert await logouts.finish(message("SAMLResponse", "relay-1")) == target
    assert await parts.store.sessions.get_upstream_logout("relay-1") is None


async def test_a_logout_request_from_no_idp_of_the_broker_is_refused(parts: JourneyParts) -> None:
    query = message("SAMLRequest", "r")
    with pytest.raises(
        UpstreamLogoutError, match=r"^LogoutRequest from no SAML IdP of this broker$"
    ):
        await upstream_logouts(parts).answer_idp(query)


# -- SAML single logout with a real IdP's metadata, keys and signed messages ---------------------
# The IdP is the forge of tests/upstream/saml (its key in its metadata, real xmlsec1 signatures);
# the broker's side is a real SAMLConnector and the SP's own key pair.

NAME_ID = "AAdzZWNyZXQx"
UPSTREAM = UpstreamSession(
    idp_id="suomifi",
    name_id=NAME_ID,
    name_id_format=TRANSIENT,
    name_qualifier=IDP_ENTITY_ID,
    sp_name_qualifier=SP_ENTITY_ID,
    session_index="_session-1",
)
TARGET = LogoutTarget(LOGGED_OUT, "s1", "Portal portal", "sv")
NO_SLO = "idp suomifi: no SLO service; logged out at the broker only"
SKEW = 90  # not SingleLogout's default: the configured skew must reach the checks


@pytest.fixture(scope="session")
def idp(saml_sp: ServiceProvider, tmp_path_factory: pytest.TempPathFactory) -> Forge:
    keys = tmp_path_factory.mktemp("journey-forged-idp")
    return Forge.with_keys_in(keys, saml_sp.keys.cert_file)


@pytest.fixture(scope="session")
def idp_metadata(idp: Forge, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The IdP's metadata files: with an HTTP-Redirect SLO service (and its ResponseLocation),
    without any, and one that is missing."""
    directory = tmp_path_factory.mktemp("journey-idp-metadata")
    with_slo = metadata_with(idp, redirect_service(IDP_SLO, IDP_SLO_RESPONSES))
    return {
        "slo": written(directory / "slo.xml", with_slo),
        "no-slo": written(directory / "no-slo.xml", metadata_with(idp, "")),
        "missing": directory / "missing.xml",
    }


@dataclass
class Probe:
    """The IdP's SLO endpoint as the probe finds it: the HTTP status it answers."""

    status: int = 200
    seen: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, str(request.url)))
        return httpx.Response(self.status)


@dataclass
class SLO:
    logouts: UpstreamLogouts
    probe: Probe
    sp: ServiceProvider


def saml_logouts(
    parts: JourneyParts,
    saml_sp: ServiceProvider,
    connectors: dict[str, Any],
    *,
    signer: bool = True,
) -> SLO:
    probe = Probe()
    logouts = UpstreamLogouts(
        parts.journey._provider,
        parts.clock,
        httpx.AsyncClient(transport=httpx.MockTransport(probe)),
        connectors,
        SPSigner(saml_sp) if signer else None,
        slo_url=SLO_URL,
        ttl=600,
        clock_skew=SKEW,
    )
    return SLO(logouts, probe, saml_sp)


def connector(saml_sp: ServiceProvider, metadata: Path) -> SAMLConnector:
    return make_connector(saml_sp, metadata, Replays(), "suomifi")


@pytest.fixture
def slo(parts: JourneyParts, saml_sp: ServiceProvider, idp_metadata: dict[str, Path]) -> SLO:
    return saml_logouts(parts, saml_sp, {"suomifi": connector(saml_sp, idp_metadata["slo"])})


async def saml_session(parts: JourneyParts, upstream: UpstreamSession = UPSTREAM) -> str:
    """An SSO session from a SAML login, ended as /end_session ends it before `begin`."""
    provider = parts.journey._provider
    sso = await provider.sessions.start(
        "acc", acr=None, amr=(), claims={"idp": "suomifi"}, upstream=upstream, auth_time=T0
    )
    return sso.sid


def signed_by_idp(idp: Forge, kind: str, xml: str, relay_state: str | None) -> str:
    """The query of `xml` sent by the IdP (HTTP-Redirect binding), signed with its metadata key."""
    return urlsplit(encode(SLO_URL, kind, xml, relay_state, private_key(idp.key))).query


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "broker.journey.logout"
    ]


async def test_with_saml_idps_and_the_sps_key_single_logout_is_on(
    parts: JourneyParts, saml_sp: ServiceProvider, idp_metadata: dict[str, Path]
) -> None:
    connectors = {"suomifi": connector(saml_sp, idp_metadata["slo"])}
    assert saml_logouts(parts, saml_sp, connectors).logouts.enabled
    without_key = saml_logouts(parts, saml_sp, connectors, signer=False).logouts
    assert not without_key.enabled
    assert await without_key.begin(await saml_session(parts), TARGET) is None


async def test_the_logout_request_goes_signed_to_the_idps_slo_service_and_waits(
    parts: JourneyParts, slo: SLO, caplog: pytest.LogCaptureFixture
) -> None:
    sid = await saml_session(parts)
    await parts.journey._provider.end_session(await parts.store.sessions.get(sid))
    with caplog.at_level(logging.INFO, "broker.journey.logout"):
        redirect = await slo.logouts.begin(sid, TARGET)
    assert redirect is not None and redirect.idp_id == "suomifi"
    assert redirect.url.startswith(IDP_SLO + "?SAMLRequest=")
    assert slo.probe.seen == [("HEAD", IDP_SLO)]
    message, xml = read_back(redirect.url, slo.sp)  # signed with the SP's active key
    request = samlp.logout_request_from_string(xml)
    assert (request.issue_instant, request.destination) == (instant(T0), IDP_SLO)
    assert (request.issuer.text, request.name_id.text) == (SP_ENTITY_ID, NAME_ID)
    assert [i.text for i in request.session_index] == ["_session-1"]
    assert message.relay_state is not None
    pending = await parts.store.sessions.get_upstream_logout(message.relay_state)
    assert pending == UpstreamLogout(
        message.relay_state, "suomifi", request.id, TARGET.to_json(), T0, T0 + 600
    )
    assert len(message.relay_state) >= 40 and request.id.startswith("_")
    assert records(caplog) == [("INFO", "idp suomifi: LogoutRequest sent")]


async def test_no_logout_request_without_a_saml_session_of_a_configured_idp(
    parts: JourneyParts, slo: SLO
) -> None:
    plain = await parts.journey._provider.sessions.start(
        "acc", acr=None, amr=(), claims={"idp": "suomifi"}, auth_time=T0
    )
    assert await slo.logouts.begin(plain.sid, TARGET) is None
    elsewhere = await saml_session(parts, replace(UPSTREAM, idp_id="org-saml"))
    assert await slo.logouts.begin(elsewhere, TARGET) is None
    assert slo.probe.seen == []


@pytest.mark.parametrize(
    ("metadata", "status", "logged"),
    [
        ("no-slo", 200, [("INFO", NO_SLO)]),
        ("slo", 503, [("WARNING", "idp suomifi: SLO service unreachable; broker logout only")]),
        (
            "missing",
            200,
            [
                (
                    "WARNING",
                    "idp suomifi: metadata unavailable for single logout"
                    " (suomifi: metadata file: No such file or directory)",
                ),  # and not that the IdP has no SLO service: nobody knows
            ],
        ),
    ],
)
async def test_an_idp_without_a_working_slo_service_is_not_asked(
    parts: JourneyParts,
    saml_sp: ServiceProvider,
    idp_metadata: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
    metadata: str,
    status: int,
    logged: list[tuple[str, str]],
) -> None:
    slo = saml_logouts(parts, saml_sp, {"suomifi": connector(saml_sp, idp_metadata[metadata])})
    slo.probe.status = status
    with caplog.at_level(logging.INFO, "broker.journey.logout"):
        assert await slo.logouts.begin(await saml_session(parts), TARGET) is None
    assert records(caplog) == logged
    assert slo.probe.seen == ([("HEAD", IDP_SLO)] if metadata == "slo" else [])
    assert await parts.store.sessions.get_upstream_logout("") is None


async def pending_logout(parts: JourneyParts, slo: SLO) -> tuple[str, str]:
    """A logout begun at the IdP: its RelayState and its LogoutRequest's ID."""
    redirect = await slo.logouts.begin(await saml_session(parts), TARGET)
    assert redirect is not None
    message, xml = read_back(redirect.url, slo.sp)
    assert message.relay_state is not None
    return message.relay_state, samlp.logout_request_from_string(xml).id


@pytest.mark.parametrize(
    ("status", "logged"),
    [
        (SUCCESS, ("INFO", "idp suomifi: logged out at the IdP")),
        (PARTIAL, ("WARNING", "idp suomifi: IdP answered the logout with PartialLogout")),
    ],
)
async def test_the_idps_logout_response_sends_the_browser_on(
    parts: JourneyParts,
    slo: SLO,
    idp: Forge,
    caplog: pytest.LogCaptureFixture,
    status: str,
    logged: tuple[str, str],
) -> None:
    relay, request_id = await pending_logout(parts, slo)
    answer = logout_response(
        request_id, status=f'<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>'
    )
    parts.clock.advance(599)  # the pending logout's last second
    caplog.clear()
    with caplog.at_level(logging.INFO, "broker.journey.logout"):
        done = await slo.logouts.finish(signed_by_idp(idp, "SAMLResponse", answer, relay))
    assert done == TARGET
    assert records(caplog) == [logged]
    assert await parts.store.sessions.get_upstream_logout(relay) is None


@pytest.mark.parametrize(
    ("forged", "why"),
    [
        ("another request", "suomifi: InResponseTo is not the broker's LogoutRequest"),
        ("impostor", "suomifi: signature is not by the sender's metadata key"),
        ("to elsewhere", "suomifi: Destination is not the broker's SingleLogoutService"),
    ],
)
async def test_a_forged_logout_response_is_refused_and_the_logout_still_waits(
    parts: JourneyParts, slo: SLO, idp: Forge, forged: str, why: str
) -> None:
    relay, request_id = await pending_logout(parts, slo)
    answer = logout_response("_another" if forged == "another request" else request_id)
    if forged == "to elsewhere":
        answer = logout_response(request_id, destination=ISSUER + "/upstream/saml/slo")
    key = idp.impostor if forged == "impostor" else idp.key
    query = urlsplit(encode(SLO_URL, "SAMLResponse", answer, relay, private_key(key))).query
    with pytest.raises(UpstreamLogoutError) as caught:
        await slo.logouts.finish(query)
    assert caught.value.detail == why
    genuine = signed_by_idp(idp, "SAMLResponse", logout_response(request_id), relay)
    assert await slo.logouts.finish(genuine) == TARGET


@dataclass
class AnsweredMeanwhile:
    """The IdP's connector, while a second copy of the same LogoutResponse ends the logout."""

    real: SAMLConnector
    store: Any
    relay: str = ""

    async def idp_client(self) -> Any:
        await self.store.sessions.finish_upstream_logout(self.relay)
        return await self.real.idp_client()


async def test_a_logout_response_answered_twice_is_refused_the_second_time(
    parts: JourneyParts, saml_sp: ServiceProvider, idp_metadata: dict[str, Path], idp: Forge
) -> None:
    racing = AnsweredMeanwhile(connector(saml_sp, idp_metadata["slo"]), parts.store)
    slo = saml_logouts(parts, saml_sp, {"suomifi": racing})
    racing.relay, request_id = await pending_logout(parts, slo)
    answer = signed_by_idp(idp, "SAMLResponse", logout_response(request_id), racing.relay)
    with pytest.raises(UpstreamLogoutError) as caught:
        await slo.logouts.finish(answer)
    assert caught.value.detail == "suomifi: logout already answered"


@pytest.mark.parametrize("idp_id", ["suomifi", "gone"])
async def test_a_response_when_the_idps_metadata_is_unavailable_ends_the_logout_unchecked(
    parts: JourneyParts, saml_sp: ServiceProvider, idp_metadata: dict[str, Path], idp_id: str
) -> None:
    """`suomifi`: its metadata cannot be read now; `gone`: the IdP is no longer configured."""
    slo = saml_logouts(parts, saml_sp, {"suomifi": connector(saml_sp, idp_metadata["missing"])})
    pending = UpstreamLogout("relay-1", idp_id, "_r1", TARGET.to_json(), T0 - 10, T0 + 1)
    await parts.store.sessions.put_upstream_logout(pending)
    assert await slo.logouts.finish(message("SAMLResponse", "relay-1")) == TARGET
    assert await parts.store.sessions.get_upstream_logout("relay-1") is None


async def test_the_idps_logout_request_ends_the_sessions_it_names_and_is_answered(
    parts: JourneyParts, slo: SLO, idp: Forge, caplog: pytest.LogCaptureFixture
) -> None:
    named = [await saml_session(parts), await saml_session(parts)]
    other_index = await saml_session(parts, replace(UPSTREAM, session_index="_session-2"))
    other_person = await saml_session(parts, replace(UPSTREAM, name_id="someone-else"))
    query = signed_by_idp(idp, "SAMLRequest", logout_request(), "rs-1")
    with caplog.at_level(logging.INFO, "broker.journey.logout"):
        answer = await slo.logouts.answer_idp(query)
    assert answer.ended == tuple(sorted(named))
    sessions = parts.journey._provider.sessions
    assert [await sessions.active(sid) is None for sid in named] == [True, True]
    assert [await sessions.active(sid) is None for sid in (other_index, other_person)] == [
        False,
        False,
    ]
    assert records(caplog) == [("INFO", "idp suomifi: IdP-initiated logout ended 2 session(s)")]
    assert answer.url.startswith(IDP_SLO_RESPONSES + "?SAMLResponse=")
    message, xml = read_back(answer.url, slo.sp)
    response = samlp.logout_response_from_string(xml)
    assert (message.relay_state, response.in_response_to) == ("rs-1", "_idp-request-1")
    assert (response.issuer.text, response.issue_instant) == (SP_ENTITY_ID, instant(T0))
    assert response.status.status_code.value == SUCCESS
    seen = await parts.store.replay._db.all("SELECT issuer, jti, expires_at FROM seen_jtis")  # type: ignore[attr-defined]
    assert [tuple(row.values()) for row in seen] == [
        (IDP_ENTITY_ID, "_idp-request-1", T0 + MESSAGE_LIFETIME + 2 * SKEW)
    ]
    with pytest.raises(UpstreamLogoutError) as caught:
        await slo.logouts.answer_idp(query)
    assert caught.value.detail == "suomifi: LogoutRequest replayed"


async def test_an_idp_logout_request_naming_no_session_is_answered_all_the_same(
    parts: JourneyParts, slo: SLO, idp: Forge
) -> None:
    query = signed_by_idp(idp, "SAMLRequest", logout_request(), None)
    answer = await slo.logouts.answer_idp(query)
    assert answer.ended == ()
    message, _ = read_back(answer.url, slo.sp)
    assert (message.kind, message.relay_state) == ("SAMLResponse", None)


async def test_the_sender_of_a_logout_request_is_the_idp_its_issuer_names(
    parts: JourneyParts, saml_sp: ServiceProvider, idp_metadata: dict[str, Path], idp: Forge
) -> None:
    connectors = {
        "gone": connector(saml_sp, idp_metadata["missing"]),
        "suomifi": connector(saml_sp, idp_metadata["slo"]),
    }
    slo = saml_logouts(parts, saml_sp, connectors)
    sid = await saml_session(parts)
    answer = await slo.logouts.answer_idp(signed_by_idp(idp, "SAMLRequest", logout_request(), "r"))
    assert answer.ended == (sid,)
    for issuer in ("https://elsewhere.test", ""):
        forged = logout_request(request_id="_idp-request-2", issuer=issuer)
        with pytest.raises(UpstreamLogoutError) as caught:
            await slo.logouts.answer_idp(signed_by_idp(idp, "SAMLRequest", forged, "r"))
        assert caught.value.detail == "LogoutRequest from no SAML IdP of this broker"


async def test_a_logout_request_refused_by_its_idps_checks_ends_nothing(
    parts: JourneyParts, slo: SLO, idp: Forge
) -> None:
    sid = await saml_session(parts)
    stale = logout_request(issued=T0 - MESSAGE_LIFETIME - SKEW - 1)
    with pytest.raises(UpstreamLogoutError) as caught:
        await slo.logouts.answer_idp(signed_by_idp(idp, "SAMLRequest", stale, "r"))
    assert caught.value.detail == "suomifi: LogoutRequest IssueInstant outside the accepted window"
    assert await parts.journey._provider.sessions.active(sid) is not None
