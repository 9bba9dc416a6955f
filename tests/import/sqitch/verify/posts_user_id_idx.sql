-- Verify blog:posts_user_id_idx on pg

SELECT 1 / count(*) FROM pg_catalog.pg_indexes WHERE indexname = 'posts_user_id_idx';
