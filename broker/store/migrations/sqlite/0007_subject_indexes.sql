-- An erased or deleted account ends all of its SSO sessions and revokes all of its grants:
-- sessions by the local subject, grants by each portal's own subject for the account.
CREATE INDEX sessions_sub ON sessions (sub);
CREATE INDEX grants_client_sub ON grants (client_id, sub);
