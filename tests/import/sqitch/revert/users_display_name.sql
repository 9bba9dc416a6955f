-- Revert blog:users_display_name from pg

BEGIN;

ALTER TABLE users DROP COLUMN display_name;

COMMIT;
