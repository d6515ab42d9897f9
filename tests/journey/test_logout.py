"""The journey's side of logging out without HTTP (`logout.py`): /end_session's decisions (ask
first, end the session, where the browser goes), the probe of an IdP's single-logout endpoint,
and the refusals of a LogoutResponse that answers no logout the broker asked for. The signed
SAML messages themselves are in tests/flows/test_suomifi_logout.py."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    UpstreamLogouts,
)
from broker.store.records import SessionRecord, UpstreamLogout
from broker.upstream.saml.redirect_binding import encode
from tests.journey.conftest import ISSUER, T0, JourneyParts

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
    http = httpx.AsyncClient(
        transport=handler or httpx.MockTransport(lambda r: httpx.Response(200))
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
