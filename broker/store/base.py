"""The store: small async Protocols, one per aggregate, composed into one object.

    store.clients        ClientStore        portals (OAuth clients)
    store.transactions   TransactionStore   login transactions
    store.sessions       SessionStore       SSO sessions, their portals, upstream sessions, SLO
    store.grants         GrantStore         grants, codes, access and refresh tokens
    store.replay         ReplayCache        JWT ids seen
    store.rate_limits    RateLimitStore     rate-limit counters shared by every replica
    store.outbox         LogoutOutbox       back-channel logout deliveries
    store.leases         LeaseStore         work one process at a time does (housekeeping)
    store.accounts       AccountStore       professional accounts, links, catalogue, e-mail codes
    store.audit          AuditStore         the accounts' audit trail
    store.notices        NoticeStore        disruption notices (operators' and automatic)
    store.idp_outcomes   IdPOutcomeStore    upstream logins failed or succeeded, per IdP
    store.login_events   LoginEventStore    the authentication audit trail (each login's outcome)
    store.error_events   ErrorEventStore    what happened behind each error id (the helpdesk)
    store.idp_reloads    IdPReloadStore     requests to read the IdP files again (every process)

Each aggregate's SQL is written once against `broker.store.connection.Connection`; a backend is
only a connection and its migrations (`broker.store.sqlite`, `broker.store.postgres`), so every
backend passes the same contract tests. Every operation that must be atomic across processes is
one method (consuming a code, rotating a refresh token, remembering a jti), done in one
conditional statement or one short transaction, so no caller needs a lock.
"""

from __future__ import annotations

from broker.store import migrations
from broker.store.account_sql import SQLAccounts
from broker.store.accounts import AccountStore
from broker.store.audit import AuditStore, SQLAudit
from broker.store.clients import ClientStore, SQLClients
from broker.store.connection import Connection
from broker.store.error_events import ErrorEventStore, SQLErrorEvents
from broker.store.grants import GrantStore, SQLGrants
from broker.store.idp_outcomes import IdPOutcomeStore, SQLIdPOutcomes
from broker.store.idp_reloads import IdPReloadStore, SQLIdPReloads
from broker.store.leases import LeaseStore, SQLLeases
from broker.store.login_events import LoginEventStore, SQLLoginEvents
from broker.store.notices import NoticeStore, SQLNotices
from broker.store.outbox import LogoutOutbox, SQLLogoutOutbox
from broker.store.rate_limits import RateLimitStore, SQLRateLimits
from broker.store.records import Consumed
from broker.store.replay import ReplayCache, SQLReplayCache
from broker.store.sessions import SessionStore, SQLSessions
from broker.store.transactions import SQLTransactions, TransactionStore

__all__ = ["Consumed", "Store"]

# What housekeeping deletes once it has expired; e-mail codes an hour after they expired.
_PURGES = (
    ("transactions", 0.0),
    ("seen_jtis", 0.0),
    ("grants", 0.0),  # with their codes and tokens (ON DELETE CASCADE)
    ("sessions", 0.0),
    ("upstream_logouts", 0.0),
    ("rate_counters", 0.0),
    ("email_codes", 3600.0),
    ("idp_outcomes", 0.0),
)


class Store:
    def __init__(self, connection: Connection, *, migrate: bool = True) -> None:
        """`migrate`: apply pending migrations on open; otherwise refuse to open a database
        that `sote-broker migrate` has not brought up to date."""
        self.connection = connection
        self._migrate = migrate
        self.clients: ClientStore = SQLClients(connection)
        self.transactions: TransactionStore = SQLTransactions(connection)
        self.sessions: SessionStore = SQLSessions(connection)
        self.grants: GrantStore = SQLGrants(connection)
        self.replay: ReplayCache = SQLReplayCache(connection)
        self.rate_limits: RateLimitStore = SQLRateLimits(connection)
        self.outbox: LogoutOutbox = SQLLogoutOutbox(connection)
        self.leases: LeaseStore = SQLLeases(connection)
        self.accounts: AccountStore = SQLAccounts(connection)
        self.audit: AuditStore = SQLAudit(connection)
        self.notices: NoticeStore = SQLNotices(connection)
        self.idp_outcomes: IdPOutcomeStore = SQLIdPOutcomes(connection)
        self.login_events: LoginEventStore = SQLLoginEvents(connection)
        self.error_events: ErrorEventStore = SQLErrorEvents(connection)
        self.idp_reloads: IdPReloadStore = SQLIdPReloads(connection)

    async def open(self) -> None:
        """Connect; apply pending migrations, or check that none is pending."""
        await self.connection.open()
        try:
            if self._migrate:
                await migrations.apply(self.connection)
            else:
                await migrations.require_current(self.connection)
        except BaseException:
            await self.connection.close()
            raise

    async def migrate(self) -> list[int]:
        """Apply pending migrations (on an open store); the versions applied."""
        return await migrations.apply(self.connection)

    async def close(self) -> None:
        await self.connection.close()

    async def holds_identities(self) -> bool:
        """Whether anything made with the subject key is stored (an account, its links, an
        SSO session, a grant): then a missing subject key is a lost one, not a first start."""
        row = await self.connection.one(
            "SELECT EXISTS (SELECT 1 FROM accounts) OR EXISTS (SELECT 1 FROM account_links) "
            "OR EXISTS (SELECT 1 FROM sessions) OR EXISTS (SELECT 1 FROM grants) AS held"
        )
        return row is not None and bool(row["held"])

    async def purge_expired(self, now: float) -> int:
        """Delete what has expired; returns how many rows went."""
        total = 0
        async with self.connection.transaction() as db:
            for table, grace in _PURGES:
                sql = f"DELETE FROM {table} WHERE expires_at < ?"  # noqa: S608 - names above
                total += await db.run(sql, (now - grace,))
        return total
