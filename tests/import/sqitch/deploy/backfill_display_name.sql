-- Deploy blog:backfill_display_name to pg
-- requires: users_display_name
-- (no revert script: the names cannot be told apart from the ones users chose later)

BEGIN;

UPDATE users SET display_name = lower(email) WHERE display_name IS NULL;

COMMIT;
