-- phase expand
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: add column id_big (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."projects" ADD COLUMN IF NOT EXISTS "id_big" bigint;
-- lock: ACCESS EXCLUSIVE already held (same transaction)
COMMENT ON COLUMN "public"."projects"."id_big" IS 'ecplan:projects-id-bigint: replaces column id';
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
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_projects-id-bigint"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:projects-id-bigint: keeps "id" and "id_big" in agreement; the old column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'projects-id-bigint' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."id_big" IS NULL THEN
      NEW."id_big" := CAST(NEW."id" AS bigint);
    ELSIF NEW."id" IS NULL THEN
      NEW."id" := CAST(NEW."id_big" AS integer);
    ELSE
      NEW."id_big" := CAST(NEW."id" AS bigint);
    END IF;
  ELSIF NEW."id" IS DISTINCT FROM OLD."id" THEN
    NEW."id_big" := CAST(NEW."id" AS bigint);
  ELSIF NEW."id_big" IS DISTINCT FROM OLD."id_big" THEN
    NEW."id" := CAST(NEW."id_big" AS integer);
  ELSIF NEW."id_big" IS NULL THEN
    NEW."id_big" := CAST(NEW."id" AS bigint);
  END IF;
  RETURN NEW;
END
$ecplan$;
-- lock: SHARE ROW EXCLUSIVE, brief (blocks writes while held)
CREATE TRIGGER "zz_ecplan_sync_projects-id-bigint" BEFORE INSERT OR UPDATE ON "public"."projects" FOR EACH ROW EXECUTE FUNCTION "ecplan"."ecplan_sync_projects-id-bigint"();
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- phase backfill
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: backfill id_big (in a transaction)
-- repeated per batch of up to 5000 rows by key range, each batch in its own transaction with SET LOCAL ecplan.backfill = 'projects-id-bigint' (the sync trigger skips those writes) and the cursor saved in the same transaction
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
SET LOCAL ecplan.backfill = 'projects-id-bigint';
-- lock: ACCESS SHARE (reads and writes continue)
SELECT "id" FROM "public"."projects" WHERE ("id") > ($1::integer) ORDER BY "id" OFFSET $2 LIMIT 1;
-- lock: ROW EXCLUSIVE per batch (one short transaction each)
UPDATE "public"."projects" SET "id_big" = (CAST("id" AS bigint)) WHERE ("id") > ($1::integer) AND ("id") <= ($2::integer) AND "id_big" IS NULL AND (CAST("id" AS bigint)) IS NOT NULL;
-- ecplan saves the cursor (the upper key) in ecplan.plans here
COMMIT;

-- step 2: build index projects_pkey (must run outside a transaction block)
-- replaces projects_pkey; an invalid leftover of an interrupted build is dropped concurrently before a retry
-- when a lock is not granted within lock_timeout: wait (jittered backoff) and try again, up to 10 times
SET statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "projects_pkey_ecplan" ON "public"."projects" USING btree ("id_big");
SET statement_timeout = '300000ms';
-- then ecplan records the step in ecplan.plans

-- step 3: build index projects_owner_id_idx (must run outside a transaction block)
-- replaces projects_owner_id_idx; an invalid leftover of an interrupted build is dropped concurrently before a retry
-- when a lock is not granted within lock_timeout: wait (jittered backoff) and try again, up to 10 times
SET statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
CREATE INDEX CONCURRENTLY IF NOT EXISTS "projects_owner_id_idx_ecplan" ON "public"."projects" USING btree ("owner_id", "id_big");
SET statement_timeout = '300000ms';
-- then ecplan records the step in ecplan.plans

-- step 4: analyze (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ANALYZE "public"."projects" ("id_big");
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- phase switch
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "id_big" IS DISTINCT FROM (CAST("id" AS bigint))) AS new_differs, count(*) FILTER (WHERE "id" IS DISTINCT FROM (CAST("id_big" AS integer))) AS old_differs, count(*) FILTER (WHERE "id_big" IS DISTINCT FROM (CAST("id" AS bigint)) AND "id" IS DISTINCT FROM (CAST("id_big" AS integer))) AS divergent, count(*) AS total FROM "public"."projects";
SET statement_timeout = '300000ms';

-- step 2: make new column authoritative (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_projects-id-bigint"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:projects-id-bigint: keeps "id" and "id_big" in agreement; the new column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'projects-id-bigint' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."id_big" IS NULL THEN
      NEW."id_big" := CAST(NEW."id" AS bigint);
    ELSIF NEW."id" IS NULL THEN
      NEW."id" := CAST(NEW."id_big" AS integer);
    ELSE
      NEW."id" := CAST(NEW."id_big" AS integer);
    END IF;
  ELSIF NEW."id" IS DISTINCT FROM OLD."id" THEN
    IF NEW."id_big" IS NOT DISTINCT FROM OLD."id_big" THEN
      NEW."id_big" := CAST(NEW."id" AS bigint);
    ELSE
      NEW."id" := CAST(NEW."id_big" AS integer);
    END IF;
  ELSIF NEW."id_big" IS DISTINCT FROM OLD."id_big" THEN
    NEW."id" := CAST(NEW."id_big" AS integer);
  ELSIF NEW."id_big" IS NULL THEN
    NEW."id_big" := CAST(NEW."id" AS bigint);
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
SELECT count(*) FILTER (WHERE "id_big" IS DISTINCT FROM (CAST("id" AS bigint))) AS new_differs, count(*) FILTER (WHERE "id" IS DISTINCT FROM (CAST("id_big" AS integer))) AS old_differs, count(*) FILTER (WHERE "id_big" IS DISTINCT FROM (CAST("id" AS bigint)) AND "id" IS DISTINCT FROM (CAST("id_big" AS integer))) AS divergent, count(*) AS total FROM "public"."projects";
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
DROP TABLE IF EXISTS "ecplan_archive"."projects-id-bigint";
-- lock: ACCESS SHARE (reads and writes continue)
CREATE TABLE "ecplan_archive"."projects-id-bigint" AS SELECT "id_big", "id" FROM "public"."projects";
COMMIT;
-- then, in one transaction:
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
DROP TRIGGER "zz_ecplan_sync_projects-id-bigint" ON "public"."projects";
-- lock: none on the table
DROP FUNCTION "ecplan"."ecplan_sync_projects-id-bigint"();
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."projects" DROP COLUMN "id";
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
COMMENT ON COLUMN "public"."projects"."id_big" IS NULL;
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."projects" ADD CONSTRAINT "projects_pkey" PRIMARY KEY USING INDEX "projects_pkey_ecplan";
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER INDEX "public"."projects_owner_id_idx_ecplan" RENAME TO "projects_owner_id_idx";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
