-- A SAML login's RelayState is a fresh random value per AuthnRequest, never the transaction id;
-- the ACS finds the login by its hash. NULL once the answer is held (or for OIDC logins).
ALTER TABLE transactions ADD COLUMN relay_hash TEXT;
CREATE UNIQUE INDEX transactions_relay ON transactions (relay_hash);
