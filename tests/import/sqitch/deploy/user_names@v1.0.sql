-- Deploy blog:user_names to pg
-- requires: users_display_name

BEGIN;

CREATE VIEW user_names AS SELECT id, email FROM users;

COMMIT;
