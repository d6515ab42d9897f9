"""The OpenID Provider as one object: its parts wired together from settings.

The HTTP layer calls only this; it passes plain data in and gets plain data (dicts, URLs) out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from broker.claims.sealed import Sealer
from broker.claims.subjects import ClientSubjects
from broker.clock import Clock
from broker.errors import AuthorizationRedirectError, LoginRequiredError
from broker.frontend.oidc.authorization import (
    AuthorizationRequest,
    validate_authorization_request,
)
from broker.frontend.oidc.client_auth import ClientAuthenticator
from broker.frontend.oidc.codes import CodeIssuer
from broker.frontend.oidc.discovery import ENDPOINTS, provider_metadata
from broker.frontend.oidc.issuance import TokenIssuer
from broker.frontend.oidc.keys import KeyRing
from broker.frontend.oidc.logout import BackchannelNotifier, LogoutValidator
from broker.frontend.oidc.resources import TokenResources
from broker.frontend.oidc.sessions import SessionManager
from broker.frontend.oidc.token_endpoint import TokenEndpoint
from broker.settings import Settings
from broker.store.base import Store
from broker.store.records import ClientRecord, SessionRecord


class OIDCProvider:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        keys: KeyRing,
        clock: Clock,
        http: httpx.AsyncClient,
        *,
        subject_key: bytes,
    ) -> None:
        issuer = settings.issuer
        subjects = ClientSubjects(subject_key)
        self.settings = settings
        self.store = store
        self.keys = keys
        self.clock = clock
        self.metadata = provider_metadata(settings)
        self.sessions = SessionManager(store, clock, settings.tokens.session_ttl)
        self.codes = CodeIssuer(
            store,
            clock,
            issuer,
            settings.tokens,
            subjects,
            acr_values_supported=settings.acr_values_supported,
        )
        self.issuer = TokenIssuer(store, keys, clock, issuer, settings.tokens)
        self.tokens = TokenEndpoint(store, self.issuer, clock)
        self.resources = TokenResources(store, clock, issuer, Sealer(subject_key))
        self.logout = LogoutValidator(store, keys, issuer)
        self.backchannel = BackchannelNotifier(
            store,
            self.issuer,
            clock,
            http,
            settings.backchannel,
            subjects,
            https_only=not settings.development,
        )
        self.client_auth = ClientAuthenticator(
            store,
            clock,
            http,
            issuer=issuer,
            endpoints=tuple(
                issuer + ENDPOINTS[name]
                for name in ("token_endpoint", "revocation_endpoint", "introspection_endpoint")
            ),
            max_assertion_age=settings.tokens.client_assertion_max_age,
            clock_skew=settings.tokens.clock_skew,
            jwks_refetch_seconds=settings.limits.jwks_refetch_seconds,
            https_only=not settings.development,
        )

    async def validate_authorization(
        self, params: Mapping[str, str], duplicates: frozenset[str]
    ) -> AuthorizationRequest:
        client_id = params.get("client_id")
        client = await self.store.clients.get(client_id) if client_id else None
        return validate_authorization_request(
            params,
            duplicates,
            client,
            acr_values_supported=self.settings.acr_values_supported,
            require_pkce=self.settings.require_pkce,
        )

    async def reusable_session(
        self,
        request: AuthorizationRequest,
        sid: str | None,
        *,
        passive_upstream: bool = False,
        offered: Callable[[SessionRecord], bool] = lambda session: True,
    ) -> SessionRecord | None:
        """The SSO session that can answer this request now, or None when a login is needed.

        `offered`: whether the portal's policy offers the route and IdP the session came by (a
        portal that offers one organisation is not answered by another's login).
        prompt=none with no usable session is answered to the portal (OIDC Core §3.1.2.6),
        unless `passive_upstream`: the IdP will be asked to log the person in without a page.
        """
        session = await self.sessions.active(sid)
        if session is not None and self.sessions.satisfies(session, request) and offered(session):
            return session
        if "none" in request.prompt and not passive_upstream:
            raise login_required(request, "the user must log in")
        return None

    async def complete(self, request: AuthorizationRequest, session: SessionRecord) -> str:
        return await self.codes.authorization_response(request, session)

    async def authenticate_client(
        self, form: Mapping[str, str], authorization: str | None
    ) -> ClientRecord:
        return await self.client_auth.authenticate(form, authorization)

    async def end_session(self, session: SessionRecord | None) -> None:
        """End the SSO session, revoke its grants, and tell the portals that took part in it."""
        if session is None:
            return
        client_ids = await self.sessions.end(session.sid)
        await self.backchannel.enqueue(session.sid, session.sub, client_ids)

    async def end_subject(self, sub: str) -> int:
        """Every SSO session of the local subject (an account) ended, on every browser, its
        grants revoked and its portals told: for an account that is deleted."""
        return await self.backchannel.end_subject(sub)


def login_required(request: AuthorizationRequest, why: str) -> AuthorizationRedirectError:
    """OIDC Core §3.1.2.6 login_required, back to the portal's validated redirect_uri."""
    return AuthorizationRedirectError(LoginRequiredError(why), request.redirect_uri, request.state)
