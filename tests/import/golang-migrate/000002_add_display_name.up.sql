-- golang-migrate runs a file as it is: the transaction is written out
BEGIN;

ALTER TABLE users ADD COLUMN display_name text;

COMMIT;
