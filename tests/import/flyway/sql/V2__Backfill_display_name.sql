UPDATE users SET display_name = lower(email) WHERE display_name IS NULL;
