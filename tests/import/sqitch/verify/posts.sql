-- Verify blog:posts on pg

BEGIN;

SELECT id, user_id FROM posts WHERE 0 = 1;
SELECT title, meta FROM posts WHERE 0 = 1;

ROLLBACK;
