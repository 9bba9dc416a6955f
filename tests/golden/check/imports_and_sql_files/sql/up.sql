-- interpolations in a SQL file are checked in the file itself
ALTER TABLE accounts RENAME TO ${accounts_new:ident};
