-- Leases on work that one broker process at a time must do (housekeeping's purge and key
-- pruning): `holder` may do `name` until `expires_at`; another process takes the lease only once
-- it has expired, so a dead holder's work is picked up by the next process that asks.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
