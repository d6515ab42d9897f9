"""Logging out at the upstream IdP too: SAML single logout, after the broker's own logout.

    /end_session ─ SSO session ended first ─ its upstream session (store) ─ the IdP advertises
        an HTTP-Redirect SingleLogoutService and answers ─ pending logout (store) ─▶ the IdP
    /upstream/saml/slo ─ SAMLResponse ─ the pending logout its RelayState names ─ checks
                           ─▶ the portal's post_logout_redirect_uri, or the logged-out page
                       ─ SAMLRequest (IdP-initiated) ─ checks ─ the SSO sessions behind that
                           NameID end (portals get back-channel notices) ─▶ LogoutResponse

The broker's logout never depends on the IdP: the SSO session has ended before the IdP is asked,
and when the IdP has no SLO service, does not answer a probe, or answers with an error status, the
person goes on to the portal all the same. Only a LogoutResponse that fails a check (a forgery,
or one answering no logout the broker asked for) stops on an error page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from broker.clock import Clock
from broker.errors import UpstreamError, UpstreamLogoutError
from broker.frontend.oidc import secrets
from broker.frontend.oidc.provider import OIDCProvider
from broker.store.records import UpstreamLogout, UpstreamSession
from broker.upstream.saml.connector import SAMLConnector
from broker.upstream.saml.logout import SingleLogout, new_message_id, sender_of
from broker.upstream.saml.redirect_binding import RedirectBindingError, RedirectMessage, decode
from broker.upstream.saml.sp import ServiceProvider

log = logging.getLogger(__name__)

SUCCESS: Final = "urn:oasis:names:tc:SAML:2.0:status:Success"
PROBE_TIMEOUT_SECONDS: Final = 2.0
"""How long the IdP's SLO endpoint may take to answer the probe before the broker skips SLO."""
_DOWN: Final = (502, 503, 504)


@dataclass(frozen=True)
class LogoutTarget:
    """Where the browser goes once the logout is done: the portal's post_logout_redirect_uri
    with its state, or the logged-out page (naming the portal, in the asked language)."""

    redirect_uri: str | None = None
    state: str | None = None
    client_name: str | None = None
    ui_locales: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LogoutTarget:
        names = ("redirect_uri", "state", "client_name", "ui_locales")
        return cls(**{name: data.get(name) for name in names})


@dataclass(frozen=True)
class LogoutRedirect:
    """The URL of the broker's signed LogoutRequest at the IdP `idp_id`."""

    url: str
    idp_id: str


@dataclass(frozen=True)
class IdPLogoutAnswer:
    """The LogoutResponse's URL, and the SSO sessions the IdP's request ended."""

    url: str
    ended: tuple[str, ...]


@dataclass(frozen=True)
class SPSigner:
    """The broker's SAML SP as single logout needs it: its entity id, and its key that signs
    (the active pair's, which a key rollover changes)."""

    sp: ServiceProvider

    @property
    def entity_id(self) -> str:
        return self.sp.entity_id

    @property
    def key(self) -> rsa.RSAPrivateKey:
        return self.sp.keys.signing_key


class UpstreamLogouts:
    """Single logout with the SAML IdPs among `connectors`; `sp` is None without any."""

    def __init__(
        self,
        provider: OIDCProvider,
        clock: Clock,
        http: httpx.AsyncClient,
        connectors: Mapping[str, SAMLConnector],
        sp: SPSigner | None,
        *,
        slo_url: str,
        ttl: int,
        clock_skew: int,
    ) -> None:
        self._provider = provider
        self._store = provider.store
        self._clock = clock
        self._http = http
        self._connectors = dict(connectors) if sp is not None else {}
        self._sp = sp
        self._slo_url = slo_url
        self._ttl = ttl
        self._skew = clock_skew

    @property
    def enabled(self) -> bool:
        return bool(self._connectors)

    # -- the portal logs the person out (SP-initiated) ----------------------------------------
    async def begin(self, sid: str, target: LogoutTarget) -> LogoutRedirect | None:
        """After the SSO session `sid` ended: a LogoutRequest to its IdP, or None when there is
        nobody to ask (no SAML session, no SLO service, the IdP unreachable)."""
        upstream = await self._store.sessions.get_upstream_session(sid)
        connector = self._connectors.get(upstream.idp_id) if upstream else None
        if upstream is None or connector is None:
            return None
        slo = await self._single_logout(upstream.idp_id, connector)
        if slo is None:  # its metadata unavailable: `_single_logout` said so
            return None
        endpoint = slo.endpoint()
        if endpoint is None:
            log.info("idp %s: no SLO service; logged out at the broker only", upstream.idp_id)
            return None
        if not await self._answers(endpoint[0]):
            log.warning("idp %s: SLO service unreachable; broker logout only", slo.idp_id)
            return None
        return await self._request(slo, upstream, target)

    async def _request(
        self, slo: SingleLogout, upstream: UpstreamSession, target: LogoutTarget
    ) -> LogoutRedirect:
        """The signed LogoutRequest's URL; the logout waits in the store for the answer."""
        now = self._clock.now()
        logout = UpstreamLogout(
            logout_id=secrets.new_secret(),
            idp_id=slo.idp_id,
            request_id=new_message_id(),
            target=target.to_json(),
            created_at=now,
            expires_at=now + self._ttl,
        )
        url = await asyncio.to_thread(
            slo.request_url, upstream, logout.request_id, logout.logout_id, now
        )
        await self._store.sessions.put_upstream_logout(logout)
        log.info("idp %s: LogoutRequest sent", slo.idp_id)
        return LogoutRedirect(url, slo.idp_id)

    async def finish(self, raw_query: str) -> LogoutTarget:
        """The IdP's LogoutResponse: where the browser goes now. A response that fails a check
        leaves the pending logout for the real one and raises UpstreamLogoutError."""
        message = _decoded(raw_query)
        logout = await self._store.sessions.get_upstream_logout(message.relay_state or "")
        if logout is None or logout.expires_at <= self._clock.now():
            raise UpstreamLogoutError("LogoutResponse for no logout the broker is waiting for")
        target = LogoutTarget.from_json(logout.target)
        connector = self._connectors.get(logout.idp_id)
        slo = await self._single_logout(logout.idp_id, connector) if connector else None
        if slo is None:  # the IdP's metadata is gone: nothing can be checked, nothing is trusted
            await self._store.sessions.finish_upstream_logout(logout.logout_id)
            return target
        status = await asyncio.to_thread(slo.check_response, message, logout.request_id)
        if not await self._store.sessions.finish_upstream_logout(logout.logout_id):
            raise UpstreamLogoutError(f"{logout.idp_id}: logout already answered")
        if status == SUCCESS:
            log.info("idp %s: logged out at the IdP", logout.idp_id)
        else:
            log.warning("idp %s: IdP answered the logout with %s", logout.idp_id, _short(status))
        return target

    # -- the IdP logs the person out (IdP-initiated) ------------------------------------------
    async def answer_idp(self, raw_query: str) -> IdPLogoutAnswer:
        """End the SSO sessions the IdP's LogoutRequest names, and answer it."""
        message = _decoded(raw_query)
        slo = await self._sender(message)
        if slo is None:
            raise UpstreamLogoutError("LogoutRequest from no SAML IdP of this broker")
        request = await asyncio.to_thread(slo.read_request, message, self._clock.now())
        issuer = slo.idp.entity_id
        if not await self._store.replay.remember_jti(
            issuer, request.request_id, request.expires_at
        ):
            raise UpstreamLogoutError(f"{slo.idp_id}: LogoutRequest replayed")
        ended = await self._store.sessions.find_upstream_sessions(
            slo.idp_id, request.name_id, request.session_indexes
        )
        for sid in ended:
            await self._provider.end_session(await self._store.sessions.get(sid))
        log.info("idp %s: IdP-initiated logout ended %d session(s)", slo.idp_id, len(ended))
        now = self._clock.now()
        url = await asyncio.to_thread(slo.response_url, request, SUCCESS, now)
        return IdPLogoutAnswer(url, tuple(ended))

    # -- helpers ------------------------------------------------------------------------------
    async def _single_logout(self, idp_id: str, connector: SAMLConnector) -> SingleLogout | None:
        if self._sp is None:
            return None
        try:
            idp = await connector.idp_client()
        except UpstreamError as exc:
            log.warning("idp %s: metadata unavailable for single logout (%s)", idp_id, exc)
            return None
        sp = self._sp
        return SingleLogout(idp_id, idp, sp.entity_id, self._slo_url, sp.key, self._skew)

    async def _sender(self, message: RedirectMessage) -> SingleLogout | None:
        """The IdP whose entity id the message claims as its Issuer."""
        issuer = await asyncio.to_thread(sender_of, message)
        for idp_id, connector in self._connectors.items():
            slo = await self._single_logout(idp_id, connector)
            if slo is not None and issuer is not None and slo.idp.entity_id == issuer:
                return slo
        return None

    async def _answers(self, url: str) -> bool:
        """Whether the IdP's SLO endpoint answers at all: a browser sent to a dead IdP would stay
        there, so a down IdP is skipped (any HTTP answer but a gateway's 502-504 counts)."""
        try:
            response = await self._http.head(
                url, timeout=PROBE_TIMEOUT_SECONDS, follow_redirects=False
            )
        except httpx.HTTPError:
            return False
        return response.status_code not in _DOWN


def _decoded(raw_query: str) -> RedirectMessage:
    try:
        return decode(raw_query)
    except RedirectBindingError as exc:
        raise UpstreamLogoutError(f"SLO message refused: {exc}") from exc


def _short(status: str) -> str:
    return status.rpartition(":")[2]


@dataclass(frozen=True)
class AskFirst:
    """RP-Initiated Logout asks the person before ending the session (§2: the OP SHOULD ask)
    unless the portal's hint names this browser's session."""

    client_name: str | None
    ui_locales: str | None


@dataclass(frozen=True)
class LoggedOut:
    """The session has ended: on to the IdP's single logout first (`to_idp`), or straight to
    the portal or the logged-out page (`target`)."""

    target: LogoutTarget
    to_idp: LogoutRedirect | None


class RPLogout:
    """The decisions of /end_session, over the current IdP set's single logout."""

    def __init__(self, provider: OIDCProvider, logouts: Callable[[], UpstreamLogouts]) -> None:
        self._provider = provider
        self._logouts = logouts

    async def end_session(
        self, params: Mapping[str, str], sid: str | None, *, confirmed: bool
    ) -> AskFirst | LoggedOut:
        """`confirmed`: the person answered the question (with a valid CSRF token)."""
        logout = await self._provider.logout.validate(params)
        session = await self._provider.sessions.active(sid)
        client_name = logout.client.client_name if logout.client else None
        if session is not None and not confirmed and logout.hinted_sid != session.sid:
            return AskFirst(client_name, logout.ui_locales)
        await self._provider.end_session(session)
        target = LogoutTarget(
            redirect_uri=logout.post_logout_redirect_uri,
            state=logout.state,
            client_name=client_name,
            ui_locales=logout.ui_locales,
        )
        to_idp = await self._logouts().begin(session.sid, target) if session is not None else None
        return LoggedOut(target, to_idp)
