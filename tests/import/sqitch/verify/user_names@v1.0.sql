-- Verify blog:user_names on pg

BEGIN;

SELECT id, email FROM user_names WHERE 0 = 1;

ROLLBACK;
