-- Deploy blog:posts_user_id_idx to pg
-- requires: posts
-- (no BEGIN/COMMIT: CONCURRENTLY cannot run inside a transaction)

CREATE INDEX CONCURRENTLY IF NOT EXISTS posts_user_id_idx ON posts (user_id);
