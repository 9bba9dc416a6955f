-- Verify blog:user_names on pg

BEGIN;

SELECT id, email, display_name FROM user_names WHERE 0 = 1;

ROLLBACK;
