-- Revert blog:users from pg

BEGIN;

DROP TABLE users;

COMMIT;
