-- phase expand
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: add column full_name (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."users" ADD COLUMN IF NOT EXISTS "full_name" /* type of "name", known with --db */ unknown;
-- lock: ACCESS EXCLUSIVE already held (same transaction)
COMMENT ON COLUMN "public"."users"."full_name" IS 'ecplan:users-full-name: replaces column name';
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the type of "name" (the plan gives no "type")

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
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_users-full-name"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:users-full-name: keeps "name" and "full_name" in agreement; the old column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'users-full-name' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."full_name" IS NULL THEN
      NEW."full_name" := NEW."name";
    ELSIF NEW."name" IS NULL THEN
      NEW."name" := NEW."full_name";
    ELSE
      NEW."full_name" := NEW."name";
    END IF;
  ELSIF NEW."name" IS DISTINCT FROM OLD."name" THEN
    NEW."full_name" := NEW."name";
  ELSIF NEW."full_name" IS DISTINCT FROM OLD."full_name" THEN
    NEW."name" := NEW."full_name";
  ELSIF NEW."full_name" IS NULL THEN
    NEW."full_name" := NEW."name";
  END IF;
  RETURN NEW;
END
$ecplan$;
-- lock: SHARE ROW EXCLUSIVE, brief (blocks writes while held)
CREATE TRIGGER "zz_ecplan_sync_users-full-name" BEFORE INSERT OR UPDATE ON "public"."users" FOR EACH ROW EXECUTE FUNCTION "ecplan"."ecplan_sync_users-full-name"();
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the default of "name" (an INSERT that leaves it at its default counts as not given)

-- phase backfill
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: backfill full_name (in a transaction)
-- repeated per batch of up to 5000 rows by key range, each batch in its own transaction with SET LOCAL ecplan.backfill = 'users-full-name' (the sync trigger skips those writes) and the cursor saved in the same transaction
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
SET LOCAL ecplan.backfill = 'users-full-name';
-- lock: ACCESS SHARE (reads and writes continue)
SELECT /* key columns, known with --db */ key FROM "public"."users" WHERE (/* key columns, known with --db */ key) > ($1::unknown) ORDER BY /* key columns, known with --db */ key OFFSET $2 LIMIT 1;
-- lock: ROW EXCLUSIVE per batch (one short transaction each)
UPDATE "public"."users" SET "full_name" = ("name") WHERE (/* key columns, known with --db */ key) > ($1::unknown) AND (/* key columns, known with --db */ key) <= ($2::unknown) AND "full_name" IS NULL AND ("name") IS NOT NULL;
-- ecplan saves the cursor (the upper key) in ecplan.plans here
COMMIT;

-- step 2: analyze (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ANALYZE "public"."users" ("full_name");
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the key the backfill walks (primary key, or a unique index on NOT NULL columns)
-- not known without --db: the indexes on "name" (each is rebuilt on "full_name" with CREATE INDEX CONCURRENTLY)

-- phase switch
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "full_name" IS DISTINCT FROM ("name")) AS new_differs, count(*) FILTER (WHERE "name" IS DISTINCT FROM ("full_name")) AS old_differs, count(*) FILTER (WHERE "full_name" IS DISTINCT FROM ("name") AND "name" IS DISTINCT FROM ("full_name")) AS divergent, count(*) AS total FROM "public"."users";
SET statement_timeout = '300000ms';

-- step 2: make new column authoritative (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_users-full-name"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:users-full-name: keeps "name" and "full_name" in agreement; the new column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'users-full-name' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."full_name" IS NULL THEN
      NEW."full_name" := NEW."name";
    ELSIF NEW."name" IS NULL THEN
      NEW."name" := NEW."full_name";
    ELSE
      NEW."name" := NEW."full_name";
    END IF;
  ELSIF NEW."name" IS DISTINCT FROM OLD."name" THEN
    IF NEW."full_name" IS NOT DISTINCT FROM OLD."full_name" THEN
      NEW."full_name" := NEW."name";
    ELSE
      NEW."name" := NEW."full_name";
    END IF;
  ELSIF NEW."full_name" IS DISTINCT FROM OLD."full_name" THEN
    NEW."name" := NEW."full_name";
  ELSIF NEW."full_name" IS NULL THEN
    NEW."full_name" := NEW."name";
  END IF;
  RETURN NEW;
END
$ecplan$;
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
SELECT count(*) FILTER (WHERE "full_name" IS DISTINCT FROM ("name")) AS new_differs, count(*) FILTER (WHERE "name" IS DISTINCT FROM ("full_name")) AS old_differs, count(*) FILTER (WHERE "full_name" IS DISTINCT FROM ("name") AND "name" IS DISTINCT FROM ("full_name")) AS divergent, count(*) AS total FROM "public"."users";
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
DROP TABLE IF EXISTS "ecplan_archive"."users-full-name";
-- lock: ACCESS SHARE (reads and writes continue)
CREATE TABLE "ecplan_archive"."users-full-name" AS SELECT /* key columns, known with --db */ key, "name" FROM "public"."users";
COMMIT;
-- then, in one transaction:
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
DROP TRIGGER "zz_ecplan_sync_users-full-name" ON "public"."users";
-- lock: none on the table
DROP FUNCTION "ecplan"."ecplan_sync_users-full-name"();
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."users" DROP COLUMN "name";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the key columns archived with "name"
-- not known without --db: the rebuilt indexes renamed to their old names
