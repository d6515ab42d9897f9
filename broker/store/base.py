"""The store contract: small, async, and the same for SQLite and (later) PostgreSQL.

Every operation that must be atomic across processes is one method here (consuming a code,
rotating a refresh token, remembering a jti), so each backend can do it in one statement or
transaction and no caller needs a lock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from broker.store.accounts import AccountStore
from broker.store.records import (
    ClientRecord,
    CodeRecord,
    GrantRecord,
    LogoutDelivery,
    SessionRecord,
    TokenRecord,
    TransactionRecord,
    UpstreamLogout,
    UpstreamSession,
)

R = TypeVar("R", CodeRecord, TokenRecord)


@dataclass(frozen=True)
class Consumed(Generic[R]):
    """The outcome of a single-use redemption: the record, and whether it had been used before."""

    record: R
    first_use: bool


class Store(ABC):
    @property
    @abstractmethod
    def accounts(self) -> AccountStore:
        """Professional accounts, their links and the partner-organisation catalogue."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations."""

    @abstractmethod
    async def close(self) -> None: ...

    # clients
    @abstractmethod
    async def put_client(self, client: ClientRecord) -> None:
        """Insert or replace a client."""

    @abstractmethod
    async def get_client(self, client_id: str) -> ClientRecord | None: ...

    @abstractmethod
    async def list_clients(self) -> list[ClientRecord]: ...

    @abstractmethod
    async def delete_client(self, client_id: str, now: float) -> bool:
        """Delete the client and, in the same transaction, revoke its grants (so its tokens
        die with it and a client later registered under the same id inherits none)."""

    # login transactions
    @abstractmethod
    async def put_transaction(self, tx: TransactionRecord) -> None: ...

    @abstractmethod
    async def get_transaction(self, tx_id: str) -> TransactionRecord | None: ...

    @abstractmethod
    async def get_transaction_by_relay(self, relay_hash: str) -> TransactionRecord | None:
        """The transaction whose SAML login sent this RelayState (by its hash)."""

    @abstractmethod
    async def delete_transaction(self, tx_id: str) -> bool:
        """Delete; False if it was already gone (so a double submit completes only once)."""

    # SSO sessions
    @abstractmethod
    async def put_session(self, session: SessionRecord) -> None: ...

    @abstractmethod
    async def update_session_claims(self, sid: str, claims: dict[str, Any]) -> None:
        """Replace an SSO session's claims (the person edited their account)."""

    @abstractmethod
    async def get_session(self, sid: str) -> SessionRecord | None: ...

    @abstractmethod
    async def end_session(self, sid: str, now: float) -> list[str]:
        """Mark ended, revoke its grants; return the ids of the clients that took part in it."""

    @abstractmethod
    async def end_subject(
        self, sub: str, client_subjects: Sequence[tuple[str, str]], now: float
    ) -> list[tuple[str, list[str]]]:
        """For an account that is gone: end every session of the local subject `sub` not ended
        yet, revoke every grant of the account (by each client's own subject for it in
        `client_subjects`, (client_id, sub) pairs, since a refresh token outlives its session)
        and drop the claims both keep; return each ended session's sid with the ids of the
        clients that took part in it."""

    @abstractmethod
    async def add_session_client(self, sid: str, client_id: str) -> None: ...

    # grants, codes and tokens
    @abstractmethod
    async def put_grant(self, grant: GrantRecord, code: CodeRecord) -> None: ...

    @abstractmethod
    async def get_grant(self, grant_id: str) -> GrantRecord | None: ...

    @abstractmethod
    async def revoke_grant(self, grant_id: str, now: float) -> None:
        """Revoke the grant and so every token that descends from it."""

    @abstractmethod
    async def consume_code(
        self, code_hash: str, client_id: str, now: float
    ) -> Consumed[CodeRecord] | None:
        """Mark the code used; None if unknown or issued to another client (which then leaves
        it unused). `first_use` is False on a second redemption."""

    @abstractmethod
    async def put_tokens(self, tokens: list[TokenRecord]) -> None: ...

    @abstractmethod
    async def get_token(self, token_hash: str) -> TokenRecord | None: ...

    @abstractmethod
    async def consume_refresh_token(
        self, token_hash: str, client_id: str, now: float
    ) -> Consumed[TokenRecord] | None:
        """Mark a refresh token used for rotation; None if unknown or issued to another client
        (which then leaves it unused). `first_use` is False when it is replayed."""

    @abstractmethod
    async def revoke_token(self, token_hash: str, now: float) -> None: ...

    # replay protection
    @abstractmethod
    async def remember_jti(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record a JWT id; False if it was already recorded (a replay)."""

    # rate limits
    @abstractmethod
    async def count_hit(self, counter: str, window_start: int, expires_at: float) -> int:
        """Count one request in the fixed window `window_start` of `counter` (one atomic
        statement); returns the window's count with this one."""

    # back-channel logout outbox
    @abstractmethod
    async def enqueue_logouts(self, deliveries: list[LogoutDelivery]) -> None: ...

    @abstractmethod
    async def claim_due_logouts(
        self, now: float, lease_seconds: float, limit: int
    ) -> list[LogoutDelivery]:
        """Take due deliveries, leasing them so another replica does not send them too."""

    @abstractmethod
    async def finish_logout(self, delivery_id: str) -> None: ...

    @abstractmethod
    async def retry_logout(
        self, delivery_id: str, attempts: int, next_attempt_at: float
    ) -> None: ...

    # upstream sessions and single logout
    @abstractmethod
    async def put_upstream_session(self, sid: str, upstream: UpstreamSession) -> None:
        """Record the upstream IdP's session behind the SSO session `sid`."""

    @abstractmethod
    async def get_upstream_session(self, sid: str) -> UpstreamSession | None: ...

    @abstractmethod
    async def find_upstream_sessions(
        self, idp_id: str, name_id: str, session_indexes: tuple[str, ...]
    ) -> list[str]:
        """The ids of the SSO sessions, not ended, behind which the IdP knows the person by
        `name_id`; with `session_indexes`, only those sessions."""

    @abstractmethod
    async def put_upstream_logout(self, logout: UpstreamLogout) -> None: ...

    @abstractmethod
    async def get_upstream_logout(self, logout_id: str) -> UpstreamLogout | None: ...

    @abstractmethod
    async def finish_upstream_logout(self, logout_id: str) -> bool:
        """Delete; False if it was already gone (so an answer completes a logout only once)."""

    @abstractmethod
    async def holds_identities(self) -> bool:
        """Whether anything made with the subject key is stored (an account, its links, an
        SSO session, a grant): then a missing subject key is a lost one, not a first start."""

    # housekeeping
    @abstractmethod
    async def purge_expired(self, now: float) -> int:
        """Delete what has expired; returns how many rows went."""
