ALTER TABLE ${suffix:ident} RENAME TO accounts;
