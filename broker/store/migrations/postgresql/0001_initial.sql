-- Clients, login transactions, SSO sessions, grants, codes, tokens, jti replay cache, logout outbox.
-- Codes, tokens and client secrets are kept only as SHA-256 hashes.
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE transactions (
    tx_id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    request TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX transactions_expiry ON transactions (expires_at);

CREATE TABLE sessions (
    sid TEXT PRIMARY KEY,
    sub TEXT NOT NULL,
    auth_time DOUBLE PRECISION NOT NULL,
    acr TEXT,
    amr TEXT NOT NULL,
    claims TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    ended_at DOUBLE PRECISION
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE session_clients (
    sid TEXT NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    PRIMARY KEY (sid, client_id)
);

CREATE TABLE grants (
    grant_id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    sub TEXT NOT NULL,
    sid TEXT,
    scope TEXT NOT NULL,
    nonce TEXT,
    auth_time DOUBLE PRECISION NOT NULL,
    acr TEXT,
    amr TEXT NOT NULL,
    claims TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
);
CREATE INDEX grants_sid ON grants (sid);
CREATE INDEX grants_expiry ON grants (expires_at);

CREATE TABLE codes (
    code_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    code_challenge_method TEXT,
    expires_at DOUBLE PRECISION NOT NULL,
    used_at DOUBLE PRECISION
);
CREATE INDEX codes_grant ON codes (grant_id);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    grant_id TEXT NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    sub TEXT NOT NULL,
    scope TEXT NOT NULL,
    issued_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    used_at DOUBLE PRECISION,
    revoked_at DOUBLE PRECISION
);
CREATE INDEX tokens_grant ON tokens (grant_id);

CREATE TABLE seen_jtis (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (issuer, jti)
);

CREATE TABLE logout_outbox (
    delivery_id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    uri TEXT NOT NULL,
    sub TEXT NOT NULL,
    sid TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX logout_outbox_due ON logout_outbox (next_attempt_at);
