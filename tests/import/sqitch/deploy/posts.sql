-- Deploy blog:posts to pg
-- requires: users

BEGIN;

CREATE TABLE posts (
    id integer PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (id),
    title text NOT NULL,
    meta text NOT NULL DEFAULT '{}'
);

COMMIT;
