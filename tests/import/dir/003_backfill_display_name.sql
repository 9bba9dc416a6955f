/* A single file: an up without a down. { braces in a comment } */
UPDATE users SET display_name = lower(email) WHERE display_name IS NULL;
