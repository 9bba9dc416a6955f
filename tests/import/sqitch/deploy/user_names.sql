-- Deploy blog:user_names to pg
-- requires: backfill_display_name

BEGIN;

DROP VIEW user_names;
CREATE VIEW user_names AS SELECT id, email, display_name FROM users;

COMMIT;
