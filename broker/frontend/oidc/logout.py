"""RP-Initiated Logout 1.0 (end_session) and Back-Channel Logout 1.0 (a persistent outbox).

Back-channel notices are written to the store first and delivered by a background worker with
retries, so the person's logout never waits on a portal, and a notice survives a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from broker.claims.subjects import ClientSubjects
from broker.clock import Clock
from broker.errors import LogoutRequestError, StoreUnavailableError
from broker.frontend.oidc import secrets
from broker.frontend.oidc.issuance import TokenIssuer
from broker.frontend.oidc.keys import InvalidSignatureError, KeyRing
from broker.settings import BackchannelSettings
from broker.store.base import Store
from broker.store.records import ClientRecord, LogoutDelivery
from broker.urls import is_https

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogoutRequest:
    """A validated end_session request."""

    client: ClientRecord | None
    post_logout_redirect_uri: str | None
    state: str | None
    hinted_sid: str | None
    ui_locales: str | None


class LogoutValidator:
    def __init__(self, store: Store, keys: KeyRing, issuer: str) -> None:
        self._store = store
        self._keys = keys
        self._issuer = issuer

    async def validate(self, params: Mapping[str, str]) -> LogoutRequest:
        """Never redirect anywhere that the identified client did not register, exactly."""
        hint = params.get("id_token_hint")
        hinted_client, hinted_sid = self._read_hint(hint) if hint else (None, None)
        client_id = params.get("client_id") or hinted_client
        if hinted_client and params.get("client_id") and params["client_id"] != hinted_client:
            raise LogoutRequestError("client_id does not match id_token_hint")
        client = await self._store.clients.get(client_id) if client_id else None
        if client_id and client is None:
            raise LogoutRequestError("unknown client")
        target = params.get("post_logout_redirect_uri")
        if target is not None and (
            client is None or target not in client.post_logout_redirect_uris
        ):
            raise LogoutRequestError("post_logout_redirect_uri not registered")
        return LogoutRequest(
            client=client,
            post_logout_redirect_uri=target,
            state=params.get("state") if target else None,
            hinted_sid=hinted_sid,
            ui_locales=params.get("ui_locales"),
        )

    def _read_hint(self, hint: str) -> tuple[str, str | None]:
        """An expired ID token is still a valid hint (RP-Initiated Logout §2), a forged one not."""
        try:
            _, claims = self._keys.verify_jwt(hint, ["RS256", "ES256"])
        except InvalidSignatureError as exc:
            raise LogoutRequestError("id_token_hint is not a valid ID token") from exc
        aud = claims.get("aud")
        client_id = aud[0] if isinstance(aud, list) and len(aud) == 1 else aud
        if claims.get("iss") != self._issuer or not isinstance(client_id, str):
            raise LogoutRequestError("id_token_hint was not issued by this provider")
        sid = claims.get("sid")
        return client_id, sid if isinstance(sid, str) else None


async def queue_logouts(
    store: Store,
    subjects: ClientSubjects,
    now: float,
    sid: str,
    sub: str,
    client_ids: list[str],
    https_only: bool,
) -> bool:
    """Logout tokens to be delivered to those portals that registered a back-channel URI, in
    the persistent outbox (whichever broker process runs the worker delivers them).
    `https_only` (production): none to a plain-http URI, even of a client stored before
    `check_client` refused it."""
    deliveries = []
    for client_id in client_ids:
        client = await store.clients.get(client_id)
        if client is None or not client.backchannel_logout_uri:
            continue
        if https_only and not is_https(client.backchannel_logout_uri):
            log.warning(
                "backchannel_logout_uri is not https; no logout token sent "
                "(sote-broker check-config)",
                extra={"client_id": client_id},
            )
            continue
        deliveries.append(
            LogoutDelivery(
                delivery_id=secrets.new_id(),
                client_id=client_id,
                uri=client.backchannel_logout_uri,
                sub=subjects.for_client(sub, client),
                sid=sid,
                attempts=0,
                next_attempt_at=now,
            )
        )
    if deliveries:
        await store.outbox.enqueue(deliveries)
    return bool(deliveries)


async def end_subject_sessions(
    store: Store, subjects: ClientSubjects, now: float, sub: str, *, https_only: bool
) -> int:
    """Every session of the local subject `sub` ended and its grants revoked, the portals told
    (for an erased or deleted account: from the account page and from the CLI alike)."""
    clients = await store.clients.all()
    pairs = [(client.client_id, subjects.for_client(sub, client)) for client in clients]
    ended = await store.sessions.end_subject(sub, pairs, now)
    for sid, client_ids in ended:
        await queue_logouts(store, subjects, now, sid, sub, client_ids, https_only)
    return len(ended)


class BackchannelNotifier:
    """Delivers logout tokens to portals' backchannel_logout_uri, with exponential back-off."""

    LEASE_SECONDS = 60.0

    def __init__(
        self,
        store: Store,
        issuer: TokenIssuer,
        clock: Clock,
        http: httpx.AsyncClient,
        settings: BackchannelSettings,
        subjects: ClientSubjects,
        *,
        https_only: bool = False,
    ) -> None:
        """`https_only` (production): nothing is sent to a plain-http backchannel_logout_uri,
        even of a client stored before `check_client` refused it."""
        self._store = store
        self._https_only = https_only
        self._subjects = subjects
        self._issuer = issuer
        self._clock = clock
        self._http = http
        self._settings = settings
        self._wake = asyncio.Event()

    async def enqueue(self, sid: str, sub: str, client_ids: list[str]) -> None:
        """`sub` is the session's local subject; each portal's token carries its own."""
        now = self._clock.now()
        if await queue_logouts(
            self._store, self._subjects, now, sid, sub, client_ids, self._https_only
        ):
            self._wake.set()

    async def end_subject(self, sub: str) -> int:
        """An account gone: all its sessions end, all its grants are revoked, and every portal
        that took part in one of the sessions is told; the number of sessions ended."""
        ended = await end_subject_sessions(
            self._store, self._subjects, self._clock.now(), sub, https_only=self._https_only
        )
        self._wake.set()
        return ended

    async def run(self) -> None:
        """The worker loop; started by the app's lifespan, cancelled at shutdown."""
        while True:
            try:
                await self.deliver_due()
            except StoreUnavailableError as exc:  # an outage, not a bug: no traceback
                log.warning("back-channel logout worker: %s; will retry", exc)
            except Exception:
                log.exception("back-channel logout worker failed; will retry")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_seconds)

    async def deliver_due(self) -> int:
        # A claimed delivery is another replica's again only once its lease is over: longer than
        # any send can take, so that no replica sends a notice that another is still sending.
        lease = max(self.LEASE_SECONDS, 2 * self._settings.timeout_seconds)
        due = await self._store.outbox.claim_due(self._clock.now(), lease, 50)
        await asyncio.gather(*(self._deliver(d) for d in due))
        return len(due)

    async def _deliver(self, delivery: LogoutDelivery) -> None:
        client = await self._store.clients.get(delivery.client_id)
        if client is None:
            await self._store.outbox.finish(delivery.delivery_id)
            return
        token = self._issuer.logout_token(client, delivery.sub, delivery.sid)
        try:
            response = await self._http.post(
                delivery.uri,
                data={"logout_token": token},
                timeout=self._settings.timeout_seconds,
                follow_redirects=False,
            )
            delivered = response.status_code in (200, 204)
            reason = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            delivered, reason = False, type(exc).__name__
        if delivered:
            await self._store.outbox.finish(delivery.delivery_id)
            log.info("back-channel logout delivered", extra={"client_id": client.client_id})
            return
        await self._retry_or_drop(delivery, reason)

    async def _retry_or_drop(self, delivery: LogoutDelivery, reason: str) -> None:
        attempts = delivery.attempts + 1
        context = {"client_id": delivery.client_id, "delivery_id": delivery.delivery_id}
        if attempts >= self._settings.max_attempts:
            await self._store.outbox.finish(delivery.delivery_id)
            log.error(
                "back-channel logout abandoned after %d attempts (%s)",
                attempts,
                reason,
                extra=context,
            )
            return
        delay = self._settings.retry_base_seconds * 2 ** (attempts - 1)
        await self._store.outbox.retry(delivery.delivery_id, attempts, self._clock.now() + delay)
        log.warning(
            "back-channel logout failed (%s); retry in %.0f s", reason, delay, extra=context
        )
