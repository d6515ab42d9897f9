-- The authentication audit trail: each completed or failed login, with who (the account, once
-- known), which portal, route, IdP and acr, and for a failure a reason from a closed set
-- (broker/journey/login_audit.py). Never an identity code or a name. Purged past
-- audit.login_retention_days.
CREATE TABLE login_events (
    event_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    account_id TEXT,
    client_id TEXT,
    route TEXT,
    idp_id TEXT,
    acr TEXT,
    login_ref TEXT,
    error_id TEXT
);
CREATE INDEX login_events_at ON login_events (at);
CREATE INDEX login_events_account ON login_events (account_id, at);

-- What happened behind each error id shown on an error page, for the helpdesk
-- (`sote-broker errors show`): the error's class and message id, never its free-text detail.
-- Error ids are short and random, so not unique over the retention: no primary key on them.
-- Purged past audit.error_retention_days.
CREATE TABLE error_events (
    event_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    error_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    error TEXT NOT NULL,
    message_id TEXT NOT NULL,
    client_id TEXT,
    idp_id TEXT,
    request_id TEXT,
    login_ref TEXT
);
CREATE INDEX error_events_error ON error_events (error_id);
CREATE INDEX error_events_at ON error_events (at);
