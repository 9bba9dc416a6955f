-- Verify blog:users on pg

BEGIN;

SELECT id, email, created_at FROM users WHERE 0 = 1;

ROLLBACK;
