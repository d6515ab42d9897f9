"""The token endpoint (RFC 6749 §3.2): authorization_code and refresh_token grants.

A code redeemed twice revokes everything the first redemption issued (RFC 6749 §10.5); a refresh
token presented after it was rotated revokes its whole family (RFC 9700 §4.14.2).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping
from typing import Any

from broker.clock import Clock
from broker.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from broker.frontend.oidc import secrets
from broker.frontend.oidc.issuance import TokenIssuer
from broker.store.base import Store
from broker.store.records import ClientRecord, CodeRecord, GrantRecord

log = logging.getLogger(__name__)

CODE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
"""RFC 7636 §4.1: code-verifier = 43*128unreserved."""


class TokenEndpoint:
    def __init__(self, store: Store, issuer: TokenIssuer, clock: Clock) -> None:
        self._store = store
        self._issuer = issuer
        self._clock = clock

    async def handle(self, client: ClientRecord, form: Mapping[str, str]) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if not grant_type:
            raise InvalidRequestError("grant_type missing")
        if grant_type == "authorization_code":
            return await self.exchange_code(client, form)
        if grant_type == "refresh_token":
            return await self.refresh(client, form)
        raise UnsupportedGrantTypeError(f"grant_type {grant_type!r} is not supported")

    async def exchange_code(self, client: ClientRecord, form: Mapping[str, str]) -> dict[str, Any]:
        code = _required(form, "code")
        _check_verifier_syntax(form.get("code_verifier"))
        consumed = await self._store.grants.consume_code(
            secrets.hash_secret(code), client.client_id, self._clock.now()
        )
        if consumed is None:  # unknown, or another client's (left unused for its owner)
            raise InvalidGrantError("unknown authorization code")
        record = consumed.record
        if not consumed.first_use:
            await self._store.grants.revoke_grant(record.grant_id, self._clock.now())
            log.warning(
                "authorization code reused; its grant revoked",
                extra={"client_id": client.client_id},
            )
            raise InvalidGrantError("authorization code already used")
        self._check_code(record, form)
        grant = await self._live_grant(record.grant_id)
        issued = await self._issuer.issue(client, grant, with_nonce=True)
        log.info("code redeemed", extra={"client_id": client.client_id})
        return issued.response()

    def _check_code(self, record: CodeRecord, form: Mapping[str, str]) -> None:
        """The code's client is already checked: the store finds a code only for its client."""
        if record.expires_at <= self._clock.now():
            raise InvalidGrantError("authorization code expired")
        if form.get("redirect_uri") != record.redirect_uri:
            raise InvalidGrantError("redirect_uri does not match the authorization request")
        verifier = form.get("code_verifier")
        if record.code_challenge is None:
            if verifier is not None:
                raise InvalidGrantError("code_verifier sent but no code_challenge was")
            return
        if verifier is None:
            raise InvalidGrantError("code_verifier missing")
        if not hmac.compare_digest(secrets.s256_challenge(verifier), record.code_challenge):
            raise InvalidGrantError("code_verifier does not match code_challenge")

    async def refresh(self, client: ClientRecord, form: Mapping[str, str]) -> dict[str, Any]:
        if "refresh_token" not in client.grant_types:
            raise UnauthorizedClientError("client may not use refresh tokens")
        value = _required(form, "refresh_token")
        now = self._clock.now()
        consumed = await self._store.grants.consume_refresh_token(
            secrets.hash_secret(value), client.client_id, now
        )
        if consumed is None:  # unknown, or another client's (left unused for its owner)
            raise InvalidGrantError("unknown refresh token")
        token = consumed.record
        if not consumed.first_use:
            await self._store.grants.revoke_grant(token.grant_id, now)
            log.warning(
                "refresh token reused; its family revoked", extra={"client_id": client.client_id}
            )
            raise InvalidGrantError("refresh token already used")
        if token.revoked_at is not None or token.expires_at <= now:
            raise InvalidGrantError("refresh token expired or revoked")
        grant = await self._live_grant(token.grant_id)
        scope = _narrowed_scope(form.get("scope"), token.scope)
        issued = await self._issuer.issue(
            client, grant, with_nonce=False, scope=scope, refresh_scope=token.scope
        )
        return issued.response()

    async def _live_grant(self, grant_id: str) -> GrantRecord:
        grant = await self._store.grants.get_grant(grant_id)
        if grant is None or grant.revoked_at is not None or grant.expires_at <= self._clock.now():
            raise InvalidGrantError("grant revoked or expired")
        return grant


def _check_verifier_syntax(verifier: str | None) -> None:
    """A verifier outside RFC 7636 §4.1's syntax is a malformed request (RFC 6749 §5.2
    invalid_request, as authlib answers), refused before the code is spent: it could never match,
    and the portal's retry with its real verifier still works."""
    if verifier is not None and not CODE_VERIFIER.fullmatch(verifier):
        raise InvalidRequestError("code_verifier is not 43 to 128 unreserved characters")


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise InvalidRequestError(f"{name} missing")
    return value


def _narrowed_scope(raw: str | None, granted: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return granted
    requested = tuple(dict.fromkeys(raw.split()))
    if not set(requested) <= set(granted):
        raise InvalidScopeError("scope exceeds what was granted")
    return requested
