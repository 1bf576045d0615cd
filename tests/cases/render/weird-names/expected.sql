-- phase expand
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: add column Naïve "New" Col (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "My Schema"."Weird ""Table""" ADD COLUMN IF NOT EXISTS "Naïve ""New"" Col" text;
-- lock: ACCESS EXCLUSIVE already held (same transaction)
COMMENT ON COLUMN "My Schema"."Weird ""Table"""."Naïve ""New"" Col" IS 'ecplan:weird-quoted-names: replaces column naïve col';
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
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "My Schema"."Weird ""Table""" ALTER COLUMN "Naïve ""New"" Col" SET DEFAULT ('it''s');
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_weird-quoted-names"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:weird-quoted-names: keeps "naïve col" and "Naïve ""New"" Col" in agreement; the old column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'weird-quoted-names' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."Naïve ""New"" Col" IS NULL THEN
      NEW."Naïve ""New"" Col" := CAST(NEW."naïve col" AS text);
    ELSIF NEW."naïve col" IS NULL THEN
      NEW."naïve col" := CAST(NEW."Naïve ""New"" Col" AS /* type of "naïve col", known with --db */ unknown);
    ELSE
      NEW."Naïve ""New"" Col" := CAST(NEW."naïve col" AS text);
    END IF;
  ELSIF NEW."naïve col" IS DISTINCT FROM OLD."naïve col" THEN
    NEW."Naïve ""New"" Col" := CAST(NEW."naïve col" AS text);
  ELSIF NEW."Naïve ""New"" Col" IS DISTINCT FROM OLD."Naïve ""New"" Col" THEN
    NEW."naïve col" := CAST(NEW."Naïve ""New"" Col" AS /* type of "naïve col", known with --db */ unknown);
  ELSIF NEW."Naïve ""New"" Col" IS NULL THEN
    NEW."Naïve ""New"" Col" := CAST(NEW."naïve col" AS text);
  END IF;
  RETURN NEW;
END
$ecplan$;
-- lock: SHARE ROW EXCLUSIVE, brief (blocks writes while held)
CREATE TRIGGER "zz_ecplan_sync_weird-quoted-names" BEFORE INSERT OR UPDATE ON "My Schema"."Weird ""Table""" FOR EACH ROW EXECUTE FUNCTION "ecplan"."ecplan_sync_weird-quoted-names"();
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the type of "naïve col" (the default "down" casts back to it)
-- not known without --db: the default of "naïve col" (an INSERT that leaves it at its default counts as not given)

-- phase backfill
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: backfill Naïve "New" Col (in a transaction)
-- repeated per batch of up to 5000 rows by key range, each batch in its own transaction with SET LOCAL ecplan.backfill = 'weird-quoted-names' (the sync trigger skips those writes) and the cursor saved in the same transaction
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
SET LOCAL ecplan.backfill = 'weird-quoted-names';
-- lock: ACCESS SHARE (reads and writes continue)
SELECT /* key columns, known with --db */ key FROM "My Schema"."Weird ""Table""" WHERE (/* key columns, known with --db */ key) > ($1::unknown) ORDER BY /* key columns, known with --db */ key OFFSET $2 LIMIT 1;
-- lock: ROW EXCLUSIVE per batch (one short transaction each)
UPDATE "My Schema"."Weird ""Table""" SET "Naïve ""New"" Col" = (CAST("naïve col" AS text)) WHERE (/* key columns, known with --db */ key) > ($1::unknown) AND (/* key columns, known with --db */ key) <= ($2::unknown) AND "Naïve ""New"" Col" IS NULL AND (CAST("naïve col" AS text)) IS NOT NULL;
-- ecplan saves the cursor (the upper key) in ecplan.plans here
COMMIT;

-- step 2: add NOT NULL check (not valid) (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "My Schema"."Weird ""Table""" ADD CONSTRAINT "ecplan_not_null_weird-quoted-names" CHECK ("Naïve ""New"" Col" IS NOT NULL) NOT VALID;
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- step 3: validate NOT NULL check (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ALTER TABLE "My Schema"."Weird ""Table""" VALIDATE CONSTRAINT "ecplan_not_null_weird-quoted-names";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- step 4: analyze (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ANALYZE "My Schema"."Weird ""Table""" ("Naïve ""New"" Col");
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the key the backfill walks (primary key, or a unique index on NOT NULL columns)
-- not known without --db: the indexes on "naïve col" (each is rebuilt on "Naïve "New" Col" with CREATE INDEX CONCURRENTLY)

-- phase switch
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "Naïve ""New"" Col" IS DISTINCT FROM (CAST("naïve col" AS text))) AS new_differs, count(*) FILTER (WHERE "naïve col" IS DISTINCT FROM (CAST("Naïve ""New"" Col" AS /* type of "naïve col", known with --db */ unknown))) AS old_differs, count(*) FILTER (WHERE "Naïve ""New"" Col" IS DISTINCT FROM (CAST("naïve col" AS text)) AND "naïve col" IS DISTINCT FROM (CAST("Naïve ""New"" Col" AS /* type of "naïve col", known with --db */ unknown))) AS divergent, count(*) AS total FROM "My Schema"."Weird ""Table""";
SET statement_timeout = '300000ms';

-- step 2: make new column authoritative (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_weird-quoted-names"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:weird-quoted-names: keeps "naïve col" and "Naïve ""New"" Col" in agreement; the new column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'weird-quoted-names' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."Naïve ""New"" Col" IS NULL THEN
      NEW."Naïve ""New"" Col" := CAST(NEW."naïve col" AS text);
    ELSIF NEW."naïve col" IS NULL THEN
      NEW."naïve col" := CAST(NEW."Naïve ""New"" Col" AS /* type of "naïve col", known with --db */ unknown);
    ELSIF (NEW."Naïve ""New"" Col" IS NOT DISTINCT FROM ('it''s')) AND NOT (false) THEN
      NEW."Naïve ""New"" Col" := CAST(NEW."naïve col" AS text);
    ELSE
      NEW."naïve col" := CAST(NEW."Naïve ""New"" Col" AS /* type of "naïve col", known with --db */ unknown);
    END IF;
  ELSIF NEW."naïve col" IS DISTINCT FROM OLD."naïve col" THEN
    IF NEW."Naïve ""New"" Col" IS NOT DISTINCT FROM OLD."Naïve ""New"" Col" THEN
      NEW."Naïve ""New"" Col" := CAST(NEW."naïve col" AS text);
    ELSE
      NEW."naïve col" := CAST(NEW."Naïve ""New"" Col" AS /* type of "naïve col", known with --db */ unknown);
    END IF;
  ELSIF NEW."Naïve ""New"" Col" IS DISTINCT FROM OLD."Naïve ""New"" Col" THEN
    NEW."naïve col" := CAST(NEW."Naïve ""New"" Col" AS /* type of "naïve col", known with --db */ unknown);
  ELSIF NEW."Naïve ""New"" Col" IS NULL THEN
    NEW."Naïve ""New"" Col" := CAST(NEW."naïve col" AS text);
  END IF;
  RETURN NEW;
END
$ecplan$;
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the type of "naïve col" (the default "down" casts back to it)

-- phase contract
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "Naïve ""New"" Col" IS DISTINCT FROM (CAST("naïve col" AS text))) AS new_differs, count(*) FILTER (WHERE "naïve col" IS DISTINCT FROM (CAST("Naïve ""New"" Col" AS /* type of "naïve col", known with --db */ unknown))) AS old_differs, count(*) FILTER (WHERE "Naïve ""New"" Col" IS DISTINCT FROM (CAST("naïve col" AS text)) AND "naïve col" IS DISTINCT FROM (CAST("Naïve ""New"" Col" AS /* type of "naïve col", known with --db */ unknown))) AS divergent, count(*) AS total FROM "My Schema"."Weird ""Table""";
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
DROP TABLE IF EXISTS "ecplan_archive"."weird-quoted-names";
-- lock: ACCESS SHARE (reads and writes continue)
CREATE TABLE "ecplan_archive"."weird-quoted-names" AS SELECT /* key columns, known with --db */ key, "naïve col" FROM "My Schema"."Weird ""Table""";
COMMIT;
-- then, in one transaction:
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
DROP TRIGGER "zz_ecplan_sync_weird-quoted-names" ON "My Schema"."Weird ""Table""";
-- lock: none on the table
DROP FUNCTION "ecplan"."ecplan_sync_weird-quoted-names"();
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "My Schema"."Weird ""Table""" DROP COLUMN "naïve col";
-- lock: ACCESS EXCLUSIVE, no table scan (the validated CHECK proves it)
ALTER TABLE "My Schema"."Weird ""Table""" ALTER COLUMN "Naïve ""New"" Col" SET NOT NULL;
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "My Schema"."Weird ""Table""" DROP CONSTRAINT "ecplan_not_null_weird-quoted-names";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the type of "naïve col" (the default "down" casts back to it)
-- not known without --db: the key columns archived with "naïve col"
-- not known without --db: the rebuilt indexes renamed to their old names
