-- Rate-limit counters shared by every broker process on this store: one row per counter (a keyed
-- hash of the rule and the address or client it counts) and fixed window, bumped by one upsert
-- per request, deleted by housekeeping once the window is over.
CREATE TABLE rate_counters (
    counter TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits INTEGER NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (counter, window_start)
);
CREATE INDEX rate_counters_expiry ON rate_counters (expires_at);
