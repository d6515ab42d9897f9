-- What single logout at an upstream IdP needs (SAML SLO): the IdP's own session behind an SSO
-- session, and the logouts the broker asked an IdP for and still waits to hear back about.
-- The NameID is the IdP's name for the person at the broker (Suomi.fi: transient); kept here,
-- never in a cookie, and gone with the SSO session.
CREATE TABLE upstream_sessions (
    sid TEXT PRIMARY KEY REFERENCES sessions (sid) ON DELETE CASCADE,
    idp_id TEXT NOT NULL,
    name_id TEXT NOT NULL,
    name_id_format TEXT,
    name_qualifier TEXT,
    sp_name_qualifier TEXT,
    session_index TEXT
);
CREATE INDEX upstream_sessions_name_id ON upstream_sessions (idp_id, name_id);

CREATE TABLE upstream_logouts (
    logout_id TEXT PRIMARY KEY,
    idp_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    target TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX upstream_logouts_expiry ON upstream_logouts (expires_at);
