-- Requests to read the upstream IdP files again (`sote-broker idps reload`): one row whose
-- generation goes up by one per request; every broker process compares it with the generation
-- it last loaded and, when it moved, reads its own idp_configs/ directory again.
CREATE TABLE idp_reloads (
    name TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    requested_at REAL NOT NULL
);
