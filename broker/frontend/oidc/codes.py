"""The authorization response: a single-use code bound to client, redirect_uri, PKCE and nonce."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from broker.claims.release import release
from broker.claims.subjects import ClientSubjects
from broker.clock import Clock
from broker.errors import (
    AuthorizationRedirectError,
    UnmetAuthenticationRequirementsError,
    UntrustedRequestError,
)
from broker.frontend.oidc import secrets
from broker.frontend.oidc.authorization import AuthorizationRequest
from broker.frontend.oidc.portal_policy import meets_minimum
from broker.settings import TokenSettings
from broker.store.base import Store
from broker.store.records import CodeRecord, GrantRecord, SessionRecord


class CodeIssuer:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        issuer: str,
        ttl: TokenSettings,
        subjects: ClientSubjects,
        *,
        acr_values_supported: tuple[str, ...] = (),
    ) -> None:
        self._acr_values_supported = acr_values_supported
        self._store = store
        self._clock = clock
        self._issuer = issuer
        self._ttl = ttl
        self._subjects = subjects

    async def authorization_response(
        self, request: AuthorizationRequest, session: SessionRecord
    ) -> str:
        """The URL that sends the browser back to the portal with a fresh code; the grant has the
        portal's own `sub` (pairwise unless the portal is configured public) and only the claims
        its scopes release to it. A login below the portal's minimum acr gets no code, however
        it got here (the last of the minimum's checks; see `portal_policy`)."""
        now = self._clock.now()
        code = secrets.new_secret()
        client = await self._store.clients.get(request.client_id)
        if client is None:  # removed while the person was logging in
            raise UntrustedRequestError(f"client {request.client_id} is no longer registered")
        if not meets_minimum(session.acr, client, self._acr_values_supported):
            unmet = UnmetAuthenticationRequirementsError("below the portal's minimum acr")
            raise AuthorizationRedirectError(unmet, request.redirect_uri, request.state)
        grant = GrantRecord(
            grant_id=secrets.new_id(),
            client_id=request.client_id,
            sub=self._subjects.for_client(session.sub, client),
            sid=session.sid,
            scope=request.scope,
            nonce=request.nonce,
            auth_time=session.auth_time,
            acr=session.acr,
            amr=session.amr,
            claims=release(session.claims, request.scope, client),
            created_at=now,
            expires_at=now + self._ttl.refresh_token_ttl,
        )
        record = CodeRecord(
            code_hash=secrets.hash_secret(code),
            grant_id=grant.grant_id,
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            expires_at=now + self._ttl.code_ttl,
        )
        await self._store.grants.put_grant(grant, record)
        await self._store.sessions.add_client(session.sid, request.client_id)
        params = {"code": code, "state": request.state, "iss": self._issuer}
        return redirect_with(request.redirect_uri, params)


def redirect_with(uri: str, params: dict[str, str | None]) -> str:
    """Add parameters to a registered URI, keeping its own query (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = "&".join(q for q in (parts.query, extra) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
