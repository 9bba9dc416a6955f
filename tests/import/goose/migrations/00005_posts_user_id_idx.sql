-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS posts_user_id_idx ON posts (user_id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS posts_user_id_idx;
