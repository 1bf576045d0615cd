-- phase expand
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: add column body_clean (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."notes" ADD COLUMN IF NOT EXISTS "body_clean" text;
-- lock: ACCESS EXCLUSIVE already held (same transaction)
COMMENT ON COLUMN "public"."notes"."body_clean" IS 'ecplan:notes-dollar: replaces column body';
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- phase sync
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: install sync trigger (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_notes-dollar"() RETURNS trigger LANGUAGE plpgsql AS $ecplan1$
#variable_conflict use_column
-- ecplan:notes-dollar: keeps "body" and "body_clean" in agreement; the old column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'notes-dollar' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."body_clean" IS NULL THEN
      NEW."body_clean" := (SELECT (replace(body, '$ecplan$', '')) FROM (SELECT NEW.*) AS ecplan_row);
    ELSIF NEW."body" IS NULL THEN
      NEW."body" := NEW."body_clean";
    ELSE
      NEW."body_clean" := (SELECT (replace(body, '$ecplan$', '')) FROM (SELECT NEW.*) AS ecplan_row);
    END IF;
  ELSIF NEW."body" IS DISTINCT FROM OLD."body" THEN
    NEW."body_clean" := (SELECT (replace(body, '$ecplan$', '')) FROM (SELECT NEW.*) AS ecplan_row);
  ELSIF NEW."body_clean" IS DISTINCT FROM OLD."body_clean" THEN
    NEW."body" := NEW."body_clean";
  ELSIF NEW."body_clean" IS NULL THEN
    NEW."body_clean" := (SELECT (replace(body, '$ecplan$', '')) FROM (SELECT NEW.*) AS ecplan_row);
  END IF;
  RETURN NEW;
END
$ecplan1$;
-- lock: SHARE ROW EXCLUSIVE, brief (blocks writes while held)
CREATE TRIGGER "zz_ecplan_sync_notes-dollar" BEFORE INSERT OR UPDATE ON "public"."notes" FOR EACH ROW EXECUTE FUNCTION "ecplan"."ecplan_sync_notes-dollar"();
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the default of "body" (an INSERT that leaves it at its default counts as not given)

-- phase backfill
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: backfill body_clean (in a transaction)
-- repeated per batch of up to 5000 rows by key range, each batch in its own transaction with SET LOCAL ecplan.backfill = 'notes-dollar' (the sync trigger skips those writes) and the cursor saved in the same transaction
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
SET LOCAL ecplan.backfill = 'notes-dollar';
-- lock: ACCESS SHARE (reads and writes continue)
SELECT /* key columns, known with --db */ key FROM "public"."notes" WHERE (/* key columns, known with --db */ key) > ($1::unknown) ORDER BY /* key columns, known with --db */ key OFFSET $2 LIMIT 1;
-- lock: ROW EXCLUSIVE per batch (one short transaction each)
UPDATE "public"."notes" SET "body_clean" = (replace(body, '$ecplan$', '')) WHERE (/* key columns, known with --db */ key) > ($1::unknown) AND (/* key columns, known with --db */ key) <= ($2::unknown) AND "body_clean" IS NULL AND (replace(body, '$ecplan$', '')) IS NOT NULL;
-- ecplan saves the cursor (the upper key) in ecplan.plans here
COMMIT;

-- step 2: analyze (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ANALYZE "public"."notes" ("body_clean");
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the key the backfill walks (primary key, or a unique index on NOT NULL columns)
-- not known without --db: the indexes on "body" (each is rebuilt on "body_clean" with CREATE INDEX CONCURRENTLY)

-- phase switch
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "body_clean" IS DISTINCT FROM (replace(body, '$ecplan$', ''))) AS new_differs, count(*) FILTER (WHERE "body" IS DISTINCT FROM (body_clean)) AS old_differs, count(*) FILTER (WHERE "body_clean" IS DISTINCT FROM (replace(body, '$ecplan$', '')) AND "body" IS DISTINCT FROM (body_clean)) AS divergent, count(*) AS total FROM "public"."notes";
SET statement_timeout = '300000ms';

-- step 2: make new column authoritative (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_notes-dollar"() RETURNS trigger LANGUAGE plpgsql AS $ecplan1$
#variable_conflict use_column
-- ecplan:notes-dollar: keeps "body" and "body_clean" in agreement; the new column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'notes-dollar' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."body_clean" IS NULL THEN
      NEW."body_clean" := (SELECT (replace(body, '$ecplan$', '')) FROM (SELECT NEW.*) AS ecplan_row);
    ELSIF NEW."body" IS NULL THEN
      NEW."body" := NEW."body_clean";
    ELSE
      NEW."body" := NEW."body_clean";
    END IF;
  ELSIF NEW."body" IS DISTINCT FROM OLD."body" THEN
    IF NEW."body_clean" IS NOT DISTINCT FROM OLD."body_clean" THEN
      NEW."body_clean" := (SELECT (replace(body, '$ecplan$', '')) FROM (SELECT NEW.*) AS ecplan_row);
    ELSE
      NEW."body" := NEW."body_clean";
    END IF;
  ELSIF NEW."body_clean" IS DISTINCT FROM OLD."body_clean" THEN
    NEW."body" := NEW."body_clean";
  ELSIF NEW."body_clean" IS NULL THEN
    NEW."body_clean" := (SELECT (replace(body, '$ecplan$', '')) FROM (SELECT NEW.*) AS ecplan_row);
  END IF;
  RETURN NEW;
END
$ecplan1$;
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- phase contract
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "body_clean" IS DISTINCT FROM (replace(body, '$ecplan$', ''))) AS new_differs, count(*) FILTER (WHERE "body" IS DISTINCT FROM (body_clean)) AS old_differs, count(*) FILTER (WHERE "body_clean" IS DISTINCT FROM (replace(body, '$ecplan$', '')) AND "body" IS DISTINCT FROM (body_clean)) AS divergent, count(*) AS total FROM "public"."notes";
SET statement_timeout = '300000ms';

-- step 2: archive and drop old column (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
-- first, in its own transaction (repeated before every try):
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: none on the table
DO $ecplan$BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'ecplan_archive') THEN CREATE SCHEMA ecplan_archive; END IF; EXCEPTION WHEN unique_violation OR duplicate_schema THEN NULL; END$ecplan$;
-- lock: none on the table
DROP TABLE IF EXISTS "ecplan_archive"."notes-dollar";
-- lock: ACCESS SHARE (reads and writes continue)
CREATE TABLE "ecplan_archive"."notes-dollar" AS SELECT /* key columns, known with --db */ key, "body" FROM "public"."notes";
COMMIT;
-- then, in one transaction:
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
DROP TRIGGER "zz_ecplan_sync_notes-dollar" ON "public"."notes";
-- lock: none on the table
DROP FUNCTION "ecplan"."ecplan_sync_notes-dollar"();
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."notes" DROP COLUMN "body";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the key columns archived with "body"
-- not known without --db: the rebuilt indexes renamed to their old names
