-- The language the person registered in (fi, sv, en): the mail the broker sends them later (a
-- new login route linked to their account) is in it. Accounts from before: Finnish.
ALTER TABLE accounts ADD COLUMN language TEXT NOT NULL DEFAULT 'fi';
