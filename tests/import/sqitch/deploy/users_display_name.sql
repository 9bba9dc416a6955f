-- Deploy blog:users_display_name to pg
-- requires: users

BEGIN;

ALTER TABLE users ADD COLUMN display_name text;

COMMIT;
