-- Disruption notices set by operators (`sote-broker notices add`) or raised by the IdP watcher:
-- on the whole service, a route or one organisation (target: '' for the service), with their
-- fi/sv/en texts as one JSON body. ends_at NULL: until ended. Every broker process reads them.
CREATE TABLE notices (
    notice_id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    target TEXT NOT NULL,
    severity TEXT NOT NULL,
    offline INTEGER NOT NULL,
    texts TEXT NOT NULL,
    source TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL,
    created_at REAL NOT NULL
);
CREATE INDEX notices_ends ON notices (ends_at);
-- Upstream logins that failed or succeeded, per IdP and short bucket of time, shared by every
-- replica: the watcher sums the buckets of its sliding window. Housekeeping deletes old buckets.
CREATE TABLE idp_outcomes (
    idp_id TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (idp_id, bucket)
);
CREATE INDEX idp_outcomes_expiry ON idp_outcomes (expires_at);
