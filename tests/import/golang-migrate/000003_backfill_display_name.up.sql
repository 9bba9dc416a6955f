-- no down: the names cannot be told apart from the ones users chose later
UPDATE users SET display_name = lower(email) WHERE display_name IS NULL;
