-- Professional accounts (issue 6): registered once, found again by a linked upstream identity or
-- by the person's verified national identifier. Both are stored only as keyed hashes (an
-- upstream subject may be an identity code). The unique keys make a second registration of the
-- same person impossible, also when two submissions race: the loser's transaction fails whole.
CREATE TABLE partner_organisations (
    org_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    code TEXT,
    name_fi TEXT NOT NULL,
    name_sv TEXT NOT NULL,
    name_en TEXT NOT NULL,
    idp_id TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    email_verified_at DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE account_partners (
    account_id TEXT NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES partner_organisations (org_id),
    position INTEGER NOT NULL,
    PRIMARY KEY (account_id, org_id)
);

CREATE TABLE account_links (
    link_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    idp_id TEXT NOT NULL,
    route TEXT NOT NULL,
    linked_at DOUBLE PRECISION NOT NULL,
    last_login_at DOUBLE PRECISION
);
CREATE INDEX account_links_account ON account_links (account_id);

CREATE TABLE account_person_ids (
    person_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL UNIQUE REFERENCES accounts (account_id) ON DELETE CASCADE
);

-- Who did what to which account, when and from which route; never an identity code, and kept
-- after the account is deleted (the README says for how long).
CREATE TABLE account_audit (
    audit_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    route TEXT,
    changes TEXT NOT NULL
);
CREATE INDEX account_audit_account ON account_audit (account_id, at);

-- One-time codes that prove an e-mail address is the person's: only a keyed hash of the code,
-- bound to the login transaction and the address; expiring, single-use, limited in attempts
-- and in how often a new one may be sent.
CREATE TABLE email_codes (
    tx_id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    sends INTEGER NOT NULL DEFAULT 1,
    used_at DOUBLE PRECISION
);
CREATE INDEX email_codes_expiry ON email_codes (expires_at);
