-- Verify blog:backfill_display_name on pg

BEGIN;

-- XXX Add verifications here.

ROLLBACK;
