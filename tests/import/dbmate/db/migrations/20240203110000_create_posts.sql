-- migrate:up
CREATE TABLE posts (
    id integer PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (id),
    title text NOT NULL,
    meta text NOT NULL DEFAULT '{}'
);

-- migrate:down
DROP TABLE posts;

-- migrate:up
CREATE TABLE post_tags (
    post_id integer NOT NULL REFERENCES posts (id),
    tag text NOT NULL,
    PRIMARY KEY (post_id, tag)
);

-- migrate:down
DROP TABLE post_tags;
