CREATE TABLE posts (
    id integer PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (id),
    title text NOT NULL DEFAULT '{untitled}',
    meta text NOT NULL DEFAULT '{}'  -- a JSON object; braces in literals and comments: }
);
