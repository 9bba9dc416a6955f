-- Revert blog:posts_user_id_idx from pg

DROP INDEX CONCURRENTLY IF EXISTS posts_user_id_idx;
