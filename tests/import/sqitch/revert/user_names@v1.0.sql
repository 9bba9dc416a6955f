-- Revert blog:user_names from pg

BEGIN;

DROP VIEW user_names;

COMMIT;
