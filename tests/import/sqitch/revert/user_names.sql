-- Revert blog:user_names from pg

BEGIN;

DROP VIEW user_names;
CREATE VIEW user_names AS SELECT id, email FROM users;

COMMIT;
