-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS posts_user_id_idx ON posts (user_id);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS posts_user_id_idx;
