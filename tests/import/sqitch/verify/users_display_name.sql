-- Verify blog:users_display_name on pg

BEGIN;

SELECT display_name FROM users WHERE 0 = 1;

ROLLBACK;
