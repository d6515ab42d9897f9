"""Logout, called directly: end_session's validation (never a redirect the client did not
register), the back-channel outbox and its delivery with retries (tests/flows/test_logout.py
goes through HTTP and browsers).

The portals' back-channel endpoints are an httpx transport that stands for them (third parties,
not broker code), recording what they were sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from broker.claims.subjects import ClientSubjects
from broker.errors import LogoutRequestError, StoreUnavailableError
from broker.frontend.oidc.keys import KeyRing
from broker.frontend.oidc.logout import (
    BackchannelNotifier,
    LogoutRequest,
    LogoutValidator,
    end_subject_sessions,
    queue_logouts,
)
from broker.settings import BackchannelSettings
from broker.store.base import Store
from broker.store.records import LogoutDelivery
from tests.frontend.oidc.conftest import (
    ISSUER,
    LOGGED_OUT,
    SUBJECT_KEY,
    T0,
    AddClient,
    Parts,
    log_lines,
)

SUBJECTS = ClientSubjects(SUBJECT_KEY)


@pytest.fixture
def validator(store: Store, keys: KeyRing) -> LogoutValidator:
    return LogoutValidator(store, keys, ISSUER)


def hint(keys: KeyRing, alg: str = "RS256", **changes: Any) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "pairwise-sub",
        "aud": "portal",
        "iat": int(T0) - 7200,
        "exp": int(T0) - 3600,  # an expired ID token is still a hint
        "sid": "sid-1",
    }
    claims |= changes
    return keys.sign_jwt({k: v for k, v in claims.items() if v is not None}, alg, typ="JWT")


async def test_no_parameters_log_out_without_a_client_or_redirect(
    validator: LogoutValidator,
) -> None:
    assert await validator.validate({"state": "s"}) == LogoutRequest(None, None, None, None, None)


async def test_a_registered_post_logout_redirect_uri_is_kept_with_state_and_locales(
    validator: LogoutValidator, add_client: AddClient
) -> None:
    client = await add_client()
    params = {
        "client_id": "portal",
        "post_logout_redirect_uri": LOGGED_OUT,
        "state": "s",
        "ui_locales": "sv",
    }

    assert await validator.validate(params) == LogoutRequest(client, LOGGED_OUT, "s", None, "sv")


async def test_without_a_redirect_the_state_is_dropped(
    validator: LogoutValidator, add_client: AddClient
) -> None:
    client = await add_client()

    request = await validator.validate({"client_id": "portal", "state": "s"})

    assert request == LogoutRequest(client, None, None, None, None)


@pytest.mark.parametrize(
    "target",
    [
        LOGGED_OUT + "x",
        LOGGED_OUT + "/",
        LOGGED_OUT + "?next=https://evil.example",
        LOGGED_OUT.upper(),
        "https://evil.example/logged-out",
        "",
    ],
)
async def test_a_post_logout_redirect_uri_not_registered_exactly_is_refused(
    validator: LogoutValidator, add_client: AddClient, target: str
) -> None:
    await add_client()

    with pytest.raises(LogoutRequestError, match=r"^post_logout_redirect_uri not registered$"):
        await validator.validate({"client_id": "portal", "post_logout_redirect_uri": target})


async def test_a_redirect_without_a_client_is_refused(validator: LogoutValidator) -> None:
    with pytest.raises(LogoutRequestError, match=r"^post_logout_redirect_uri not registered$"):
        await validator.validate({"post_logout_redirect_uri": LOGGED_OUT})


async def test_an_unknown_client_is_refused(validator: LogoutValidator) -> None:
    with pytest.raises(LogoutRequestError, match=r"^unknown client$"):
        await validator.validate({"client_id": "nobody"})


async def test_another_clients_redirect_is_refused(
    validator: LogoutValidator, add_client: AddClient
) -> None:
    await add_client()
    await add_client("other", post_logout_redirect_uris=("https://other.example/bye",))

    with pytest.raises(LogoutRequestError, match=r"^post_logout_redirect_uri not registered$"):
        await validator.validate(
            {"client_id": "portal", "post_logout_redirect_uri": "https://other.example/bye"}
        )


@pytest.mark.parametrize("aud", ["portal", ["portal"]])
async def test_an_expired_id_token_hint_names_the_client_and_the_session(
    validator: LogoutValidator, add_client: AddClient, keys: KeyRing, aud: Any
) -> None:
    client = await add_client()
    params = {"id_token_hint": hint(keys, aud=aud), "post_logout_redirect_uri": LOGGED_OUT}

    request = await validator.validate(params)

    assert request == LogoutRequest(client, LOGGED_OUT, None, "sid-1", None)


async def test_an_es256_hint_is_read(
    validator: LogoutValidator, add_client: AddClient, keys: KeyRing
) -> None:
    await add_client()

    request = await validator.validate({"id_token_hint": hint(keys, "ES256")})

    assert request.hinted_sid == "sid-1"


@pytest.mark.parametrize("sid", [None, 7])
async def test_a_hint_without_a_string_sid_names_no_session(
    validator: LogoutValidator, add_client: AddClient, keys: KeyRing, sid: Any
) -> None:
    await add_client()

    request = await validator.validate({"id_token_hint": hint(keys, sid=sid)})

    assert request.hinted_sid is None
    assert request.client is not None


async def test_a_hint_and_the_same_client_id_agree(
    validator: LogoutValidator, add_client: AddClient, keys: KeyRing
) -> None:
    client = await add_client()

    request = await validator.validate({"id_token_hint": hint(keys), "client_id": "portal"})

    assert request.client == client


async def test_a_hint_for_another_client_than_client_id_is_refused(
    validator: LogoutValidator, add_client: AddClient, keys: KeyRing
) -> None:
    await add_client()
    await add_client("other")

    with pytest.raises(LogoutRequestError, match=r"^client_id does not match id_token_hint$"):
        await validator.validate({"id_token_hint": hint(keys), "client_id": "other"})


async def test_a_hint_for_an_unknown_client_is_refused(
    validator: LogoutValidator, keys: KeyRing
) -> None:
    with pytest.raises(LogoutRequestError, match=r"^unknown client$"):
        await validator.validate({"id_token_hint": hint(keys)})


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://other.example"},
        {"iss": None},
        {"aud": ["portal", "other"]},
        {"aud": []},
        {"aud": None},
        {"aud": 7},
    ],
)
async def test_a_hint_not_issued_by_this_provider_for_one_client_is_refused(
    validator: LogoutValidator, add_client: AddClient, keys: KeyRing, changes: dict[str, Any]
) -> None:
    await add_client()

    with pytest.raises(
        LogoutRequestError, match=r"^id_token_hint was not issued by this provider$"
    ):
        await validator.validate({"id_token_hint": hint(keys, **changes)})


async def test_a_forged_hint_is_refused(
    validator: LogoutValidator, add_client: AddClient, keys: KeyRing
) -> None:
    await add_client()
    kid = keys.public_jwks()["keys"][0]["kid"]
    forger = RSAKey.generate_key(2048, parameters={"kid": str(kid)})
    forged = jwt.encode({"alg": "RS256", "kid": kid}, {"iss": ISSUER, "aud": "portal"}, forger)

    with pytest.raises(LogoutRequestError, match=r"^id_token_hint is not a valid ID token$"):
        await validator.validate({"id_token_hint": forged})
    with pytest.raises(LogoutRequestError, match=r"^id_token_hint is not a valid ID token$"):
        await validator.validate({"id_token_hint": "not.a.jwt"})


# -- the outbox ----------------------------------------------------------------------------------

BACKCHANNEL = "https://portal.example.fi/backchannel"


async def outbox(store: Store) -> list[dict[str, Any]]:
    return await store.connection.all("SELECT * FROM logout_outbox ORDER BY client_id", ())


async def test_only_portals_with_a_back_channel_uri_are_queued_each_with_its_own_sub(
    store: Store, add_client: AddClient
) -> None:
    portal = await add_client(backchannel_logout_uri=BACKCHANNEL)
    await add_client("quiet")
    public = await add_client(
        "public", backchannel_logout_uri=BACKCHANNEL + "2", subject_type="public"
    )

    queued = await queue_logouts(
        store, SUBJECTS, T0, "sid-1", "local", ["portal", "quiet", "gone", "public"], False
    )

    assert queued is True
    rows = await outbox(store)
    assert [(r["client_id"], r["uri"], r["sid"]) for r in rows] == [
        ("portal", BACKCHANNEL, "sid-1"),
        ("public", BACKCHANNEL + "2", "sid-1"),
    ]
    assert rows[0]["sub"] == SUBJECTS.for_client("local", portal) != "local"
    assert rows[1]["sub"] == SUBJECTS.for_client("local", public) == "local"
    assert {(r["attempts"], r["next_attempt_at"]) for r in rows} == {(0, T0)}


async def test_nothing_to_queue_says_so(store: Store, add_client: AddClient) -> None:
    await add_client()

    assert await queue_logouts(store, SUBJECTS, T0, "sid", "local", ["portal"], False) is False
    assert await queue_logouts(store, SUBJECTS, T0, "sid", "local", [], False) is False
    assert await outbox(store) == []


async def test_in_production_a_plain_http_back_channel_uri_gets_nothing(
    store: Store, add_client: AddClient
) -> None:
    await add_client(backchannel_logout_uri="http://portal.example.fi/backchannel")
    await add_client("safe", backchannel_logout_uri=BACKCHANNEL)

    await queue_logouts(store, SUBJECTS, T0, "sid", "local", ["portal", "safe"], True)

    assert [r["client_id"] for r in await outbox(store)] == ["safe"]
    await queue_logouts(store, SUBJECTS, T0, "sid", "local", ["portal"], False)
    assert [r["client_id"] for r in await outbox(store)] == ["portal", "safe"]


async def test_ending_a_subject_in_production_tells_no_plain_http_portal(
    parts: Parts, add_client: AddClient
) -> None:
    await add_client(backchannel_logout_uri="http://portal.example.fi/backchannel")
    session = await parts.session()
    await parts.store.sessions.add_client(session.sid, "portal")

    assert await end_subject_sessions(parts.store, SUBJECTS, T0, "local-sub", https_only=True) == 1

    assert await outbox(parts.store) == []


async def test_ending_a_subject_ends_its_sessions_and_tells_their_portals(
    parts: Parts, add_client: AddClient
) -> None:
    await add_client(backchannel_logout_uri=BACKCHANNEL)
    first, second = await parts.session(), await parts.session()
    other = await parts.sessions.start("someone-else", acr=None, amr=(), claims={})
    for session in (first, second, other):
        await parts.store.sessions.add_client(session.sid, "portal")

    ended = await end_subject_sessions(parts.store, SUBJECTS, T0, "local-sub", https_only=False)

    assert ended == 2
    assert {r["sid"] for r in await outbox(parts.store)} == {first.sid, second.sid}
    assert await parts.sessions.active(first.sid) is None
    assert await parts.sessions.active(other.sid) is not None


# -- delivery ------------------------------------------------------------------------------------


class Portals:
    """The back-channel endpoints: what they answer, and each logout token they received."""

    def __init__(self) -> None:
        self.status = 200
        self.fail: Exception | None = None
        self.fail_again: Exception | None = None  # what the attempt after a failure meets
        self.received: list[tuple[str, str]] = []
        self.timeouts: list[object] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.fail is not None:
            fail, self.fail = self.fail, self.fail_again
            raise fail
        if request.url.path.endswith("/moved"):
            return httpx.Response(200)  # where a redirect would lead: never asked
        (token,) = parse_qs(request.content.decode())["logout_token"]
        self.timeouts.append(request.extensions.get("timeout"))
        self.received.append((str(request.url), token))
        return httpx.Response(self.status, headers={"Location": BACKCHANNEL + "/moved"})


@pytest.fixture
def portals() -> Portals:
    return Portals()


@pytest.fixture
async def notifier(parts: Parts, portals: Portals) -> AsyncIterator[BackchannelNotifier]:
    settings = BackchannelSettings(retry_base_seconds=10, max_attempts=3, timeout_seconds=2)
    transport = httpx.MockTransport(portals.handle)
    # a client that would follow redirects: the notifier must not
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as http:
        yield BackchannelNotifier(parts.store, parts.issuer, parts.clock, http, settings, SUBJECTS)


async def queue_one(parts: Parts, add_client: AddClient, notifier: BackchannelNotifier) -> str:
    await add_client(backchannel_logout_uri=BACKCHANNEL)
    session = await parts.session()
    await notifier.enqueue(session.sid, "local-sub", ["portal"])
    return session.sid


async def test_a_logout_token_is_delivered_once_and_the_notice_removed(
    parts: Parts, add_client: AddClient, notifier: BackchannelNotifier, portals: Portals
) -> None:
    sid = await queue_one(parts, add_client, notifier)

    assert await notifier.deliver_due() == 1

    ((uri, token),) = portals.received
    assert uri == BACKCHANNEL
    header, claims = parts.keys.verify_jwt(token, ["RS256"])
    assert header["typ"] == "logout+jwt"
    client = await parts.store.clients.get("portal")
    assert client is not None
    assert claims == {
        "iss": ISSUER,
        "aud": "portal",
        "iat": int(T0),
        "exp": int(T0) + parts.ttl.logout_token_ttl,
        "jti": claims["jti"],
        "sub": SUBJECTS.for_client("local-sub", client),
        "sid": sid,
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    }
    assert await outbox(parts.store) == []
    assert await notifier.deliver_due() == 0
    assert portals.timeouts == [{"connect": 2, "read": 2, "write": 2, "pool": 2}]


async def test_a_204_is_delivered_too(
    parts: Parts, add_client: AddClient, notifier: BackchannelNotifier, portals: Portals
) -> None:
    portals.status = 204
    await queue_one(parts, add_client, notifier)

    await notifier.deliver_due()

    assert await outbox(parts.store) == []


@pytest.mark.parametrize("status", [201, 302, 400, 500])
async def test_any_other_answer_is_retried_with_exponential_back_off_then_dropped(
    parts: Parts,
    add_client: AddClient,
    notifier: BackchannelNotifier,
    portals: Portals,
    status: int,
) -> None:
    portals.status = status
    await queue_one(parts, add_client, notifier)

    await notifier.deliver_due()
    (row,) = await outbox(parts.store)
    assert (row["attempts"], row["next_attempt_at"]) == (1, T0 + 10)

    parts.clock.advance(9.999)
    assert await notifier.deliver_due() == 0
    parts.clock.advance(0.001)
    await notifier.deliver_due()
    (row,) = await outbox(parts.store)
    assert (row["attempts"], row["next_attempt_at"]) == (2, T0 + 10 + 20)

    parts.clock.advance(20)
    await notifier.deliver_due()
    assert await outbox(parts.store) == []  # max_attempts (3) reached: dropped
    assert len(portals.received) == 3


async def test_an_unreachable_portal_is_retried(
    parts: Parts, add_client: AddClient, notifier: BackchannelNotifier, portals: Portals
) -> None:
    portals.fail = portals.fail_again = httpx.ConnectError("refused")
    await queue_one(parts, add_client, notifier)

    await notifier.deliver_due()

    (row,) = await outbox(parts.store)
    assert (row["attempts"], row["next_attempt_at"]) == (1, T0 + 10)


@pytest.mark.parametrize(("send_timeout", "lease"), [(5, 60), (45, 90)])
async def test_a_notice_being_sent_is_leased_for_longer_than_the_send_can_take(
    parts: Parts, add_client: AddClient, send_timeout: float, lease: float
) -> None:
    """While the portal is being called, another replica's claim_due must not see the notice."""
    leased_until: list[float] = []

    async def portal(request: httpx.Request) -> httpx.Response:
        leased_until.extend(r["next_attempt_at"] for r in await outbox(parts.store))
        return httpx.Response(200)

    settings = BackchannelSettings(timeout_seconds=send_timeout)
    async with httpx.AsyncClient(transport=httpx.MockTransport(portal)) as http:
        notifier = BackchannelNotifier(
            parts.store, parts.issuer, parts.clock, http, settings, SUBJECTS
        )
        await add_client(backchannel_logout_uri=BACKCHANNEL)
        await parts.store.outbox.enqueue([delivery()])

        assert await notifier.deliver_due() == 1

    assert leased_until == [T0 + lease]


def delivery(client_id: str = "portal") -> LogoutDelivery:
    return LogoutDelivery("d-1", client_id, BACKCHANNEL, "sub", "sid", 0, T0)


async def test_a_notice_for_a_removed_portal_is_dropped_unsent(
    parts: Parts, notifier: BackchannelNotifier, portals: Portals
) -> None:
    await parts.store.outbox.enqueue([delivery("gone")])

    assert await notifier.deliver_due() == 1

    assert portals.received == []
    assert await outbox(parts.store) == []


async def test_the_notifier_in_production_ends_a_subject_without_telling_plain_http_portals(
    parts: Parts, add_client: AddClient, portals: Portals
) -> None:
    await add_client(backchannel_logout_uri="http://portal.example.fi/backchannel")
    session = await parts.session()
    await parts.store.sessions.add_client(session.sid, "portal")
    async with httpx.AsyncClient(transport=httpx.MockTransport(portals.handle)) as http:
        notifier = BackchannelNotifier(
            parts.store,
            parts.issuer,
            parts.clock,
            http,
            BackchannelSettings(),
            SUBJECTS,
            https_only=True,
        )

        assert await notifier.end_subject("local-sub") == 1

    assert await outbox(parts.store) == []


async def test_ending_a_subject_through_the_notifier_counts_its_sessions(
    parts: Parts, add_client: AddClient, notifier: BackchannelNotifier, portals: Portals
) -> None:
    await add_client(backchannel_logout_uri=BACKCHANNEL)
    session = await parts.session()
    await parts.store.sessions.add_client(session.sid, "portal")

    assert await notifier.end_subject("local-sub") == 1
    assert await notifier.end_subject("local-sub") == 0

    await notifier.deliver_due()
    assert len(portals.received) == 1


# -- what operators read -------------------------------------------------------------------------


def logged(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str | None]]:
    return log_lines(caplog, "logout")


async def test_a_plain_http_back_channel_uri_skipped_in_production_is_logged(
    store: Store, add_client: AddClient, caplog: pytest.LogCaptureFixture
) -> None:
    await add_client(backchannel_logout_uri="http://portal.example.fi/backchannel")

    await queue_logouts(store, SUBJECTS, T0, "sid", "local", ["portal"], True)

    assert logged(caplog) == [
        (
            "WARNING",
            "backchannel_logout_uri is not https; no logout token sent (sote-broker check-config)",
            "portal",
        )
    ]


async def test_deliveries_retries_and_giving_up_are_logged(
    parts: Parts,
    add_client: AddClient,
    notifier: BackchannelNotifier,
    portals: Portals,
    caplog: pytest.LogCaptureFixture,
) -> None:
    portals.status = 503
    await queue_one(parts, add_client, notifier)
    (row,) = await outbox(parts.store)

    for advance in (0, 10, 20):
        parts.clock.advance(advance)
        await notifier.deliver_due()
    portals.status = 200
    await queue_one(parts, add_client, notifier)
    await notifier.deliver_due()

    records = [(r.levelname, r.getMessage(), r.__dict__) for r in caplog.records]
    assert [(level, message) for level, message, _ in records if "back-channel" in message] == [
        ("WARNING", "back-channel logout failed (HTTP 503); retry in 10 s"),
        ("WARNING", "back-channel logout failed (HTTP 503); retry in 20 s"),
        ("ERROR", "back-channel logout abandoned after 3 attempts (HTTP 503)"),
        ("INFO", "back-channel logout delivered"),
    ]
    context = [extra for _, message, extra in records if "back-channel" in message]
    assert [c["client_id"] for c in context] == ["portal"] * 4
    assert [c.get("delivery_id") for c in context[:3]] == [row["delivery_id"]] * 3


async def test_an_unreachable_portal_is_named_by_its_error(
    parts: Parts,
    add_client: AddClient,
    notifier: BackchannelNotifier,
    portals: Portals,
    caplog: pytest.LogCaptureFixture,
) -> None:
    portals.fail = httpx.ConnectError("refused")
    await queue_one(parts, add_client, notifier)

    await notifier.deliver_due()

    assert ("WARNING", "back-channel logout failed (ConnectError); retry in 10 s", "portal") in (
        logged(caplog)
    )


# -- the worker ----------------------------------------------------------------------------------


async def eventually(condition: Callable[[], object]) -> None:
    """Until the worker task has done it; a bound, not a measurement."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - the state is the task's and the log's, no Event
            await asyncio.sleep(0.005)


@pytest.fixture
async def worker(parts: Parts, portals: Portals) -> AsyncIterator[BackchannelNotifier]:
    """The worker loop running, polling only once an hour: anything sooner is its wake-up."""
    settings = BackchannelSettings(poll_seconds=3600, max_attempts=3)
    async with httpx.AsyncClient(transport=httpx.MockTransport(portals.handle)) as http:
        notifier = BackchannelNotifier(
            parts.store, parts.issuer, parts.clock, http, settings, SUBJECTS
        )
        task = asyncio.create_task(notifier.run())
        yield notifier
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_the_worker_sends_what_is_queued_without_waiting_for_its_poll(
    parts: Parts, add_client: AddClient, worker: BackchannelNotifier, portals: Portals
) -> None:
    await queue_one(parts, add_client, worker)
    await eventually(lambda: portals.received)

    session = await parts.session()
    await parts.store.sessions.add_client(session.sid, "portal")
    await worker.end_subject("local-sub")
    await eventually(lambda: len(portals.received) == 2)


@pytest.mark.parametrize(
    ("failure", "level", "message", "traceback"),
    [
        (RuntimeError("bug"), "ERROR", "back-channel logout worker failed; will retry", True),
        (
            StoreUnavailableError("store down"),
            "WARNING",
            "back-channel logout worker: store down; will retry",
            False,
        ),
    ],
)
async def test_the_worker_outlives_a_failure_and_says_so(
    parts: Parts,
    add_client: AddClient,
    worker: BackchannelNotifier,
    portals: Portals,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
    level: str,
    message: str,
    traceback: bool,
) -> None:
    portals.fail = failure
    await queue_one(parts, add_client, worker)
    await eventually(lambda: any(r.getMessage() == message for r in caplog.records))

    (record,) = [r for r in caplog.records if r.getMessage() == message]
    assert (record.levelname, record.exc_info is not None) == (level, traceback)
    parts.clock.advance(BackchannelNotifier.LEASE_SECONDS)
    await worker.enqueue("sid-2", "local-sub", ["portal"])
    await eventually(lambda: len(portals.received) == 2)


async def test_in_development_the_notifier_tells_a_plain_http_portal_too(
    parts: Parts, add_client: AddClient, portals: Portals
) -> None:
    """The mocks and a developer's portal run on http; production passes `https_only`."""
    await add_client(backchannel_logout_uri="http://portal.example.fi/backchannel")
    async with httpx.AsyncClient(transport=httpx.MockTransport(portals.handle)) as http:
        notifier = BackchannelNotifier(
            parts.store, parts.issuer, parts.clock, http, BackchannelSettings(), SUBJECTS
        )
        await notifier.enqueue("sid", "local-sub", ["portal"])

        assert await notifier.deliver_due() == 1

    assert [uri for uri, _ in portals.received] == ["http://portal.example.fi/backchannel"]


async def test_notices_are_sent_fifty_at_a_time(
    parts: Parts, add_client: AddClient, notifier: BackchannelNotifier
) -> None:
    await add_client(backchannel_logout_uri=BACKCHANNEL)
    await parts.store.outbox.enqueue(
        [LogoutDelivery(f"d-{i}", "portal", BACKCHANNEL, "sub", "sid", 0, T0) for i in range(51)]
    )

    assert await notifier.deliver_due() == 50
    assert await notifier.deliver_due() == 1
