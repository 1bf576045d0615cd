-- phase expand
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: add column email_normalized (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."users" ADD COLUMN IF NOT EXISTS "email_normalized" text;
-- lock: ACCESS EXCLUSIVE already held (same transaction)
COMMENT ON COLUMN "public"."users"."email_normalized" IS 'ecplan:users-email-lower: replaces column email';
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- step 2: build index users_email_key (must run outside a transaction block)
-- replaces users_email_key, which backs a DEFERRABLE constraint: built before the new column is written, then made deferrable, so no transaction meets an immediate check
-- when a lock is not granted within lock_timeout: wait (jittered backoff) and try again, up to 10 times
SET statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "users_email_key_ecplan" ON "public"."users" USING btree ("email_normalized");
SET statement_timeout = '300000ms';
-- then ecplan records the step in ecplan.plans

-- step 3: make users_email_key_ecplan deferrable (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."users" ADD CONSTRAINT "users_email_key_ecplan" UNIQUE USING INDEX "users_email_key_ecplan" DEFERRABLE INITIALLY DEFERRED;
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
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_users-email-lower"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:users-email-lower: keeps "email" and "email_normalized" in agreement; the old column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'users-email-lower' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."email_normalized" IS NULL THEN
      NEW."email_normalized" := (SELECT (lower(email)) FROM (SELECT NEW.*) AS ecplan_row);
    ELSIF NEW."email" IS NULL THEN
      NEW."email" := NEW."email_normalized";
    ELSE
      NEW."email_normalized" := (SELECT (lower(email)) FROM (SELECT NEW.*) AS ecplan_row);
    END IF;
  ELSIF NEW."email" IS DISTINCT FROM OLD."email" THEN
    NEW."email_normalized" := (SELECT (lower(email)) FROM (SELECT NEW.*) AS ecplan_row);
  ELSIF NEW."email_normalized" IS DISTINCT FROM OLD."email_normalized" THEN
    NEW."email" := NEW."email_normalized";
  ELSIF NEW."email_normalized" IS NULL THEN
    NEW."email_normalized" := (SELECT (lower(email)) FROM (SELECT NEW.*) AS ecplan_row);
  END IF;
  RETURN NEW;
END
$ecplan$;
-- lock: SHARE ROW EXCLUSIVE, brief (blocks writes while held)
CREATE TRIGGER "zz_ecplan_sync_users-email-lower" BEFORE INSERT OR UPDATE ON "public"."users" FOR EACH ROW EXECUTE FUNCTION "ecplan"."ecplan_sync_users-email-lower"();
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- phase backfill
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: backfill email_normalized (in a transaction)
-- repeated per batch of up to 10000 rows by key range, each batch in its own transaction with SET LOCAL ecplan.backfill = 'users-email-lower' (the sync trigger skips those writes) and the cursor saved in the same transaction
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
SET LOCAL ecplan.backfill = 'users-email-lower';
-- lock: ACCESS SHARE (reads and writes continue)
SELECT "id" FROM "public"."users" WHERE ("id") > ($1::bigint) ORDER BY "id" OFFSET $2 LIMIT 1;
-- lock: ROW EXCLUSIVE per batch (one short transaction each)
UPDATE "public"."users" SET "email_normalized" = (lower(email)) WHERE ("id") > ($1::bigint) AND ("id") <= ($2::bigint) AND "email_normalized" IS NULL AND (lower(email)) IS NOT NULL;
-- ecplan saves the cursor (the upper key) in ecplan.plans here
COMMIT;

-- step 2: add NOT NULL check (not valid) (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."users" ADD CONSTRAINT "ecplan_not_null_users-email-lower" CHECK ("email_normalized" IS NOT NULL) NOT VALID;
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- step 3: validate NOT NULL check (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ALTER TABLE "public"."users" VALIDATE CONSTRAINT "ecplan_not_null_users-email-lower";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- step 4: build index users_email_created_idx (must run outside a transaction block)
-- replaces users_email_created_idx; an invalid leftover of an interrupted build is dropped concurrently before a retry
-- when a lock is not granted within lock_timeout: wait (jittered backoff) and try again, up to 10 times
SET statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
CREATE INDEX CONCURRENTLY IF NOT EXISTS "users_email_created_idx_ecplan" ON "public"."users" USING btree ("email_normalized", "created_at" DESC) INCLUDE ("id");
SET statement_timeout = '300000ms';
-- then ecplan records the step in ecplan.plans

-- step 5: build index users_email_lower_idx (must run outside a transaction block)
-- replaces users_email_lower_idx; an invalid leftover of an interrupted build is dropped concurrently before a retry
-- when a lock is not granted within lock_timeout: wait (jittered backoff) and try again, up to 10 times
SET statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
CREATE INDEX CONCURRENTLY IF NOT EXISTS "users_email_lower_idx_ecplan" ON "public"."users" USING btree (lower(("email_normalized")::text)) WHERE ("email_normalized" IS NOT NULL);
SET statement_timeout = '300000ms';
-- then ecplan records the step in ecplan.plans

-- step 6: build index users_live_email_idx (must run outside a transaction block)
-- replaces users_live_email_idx; an invalid leftover of an interrupted build is dropped concurrently before a retry
-- when a lock is not granted within lock_timeout: wait (jittered backoff) and try again, up to 10 times
SET statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
CREATE INDEX CONCURRENTLY IF NOT EXISTS "users_live_email_idx_ecplan" ON "public"."users" USING btree ("email_normalized" NULLS FIRST) WHERE (deleted_at IS NULL);
SET statement_timeout = '300000ms';
-- then ecplan records the step in ecplan.plans

-- step 7: analyze (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ANALYZE "public"."users" ("email_normalized");
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
SELECT count(*) FILTER (WHERE "email_normalized" IS DISTINCT FROM (lower(email))) AS new_differs, count(*) FILTER (WHERE "email" IS DISTINCT FROM (email_normalized)) AS old_differs, count(*) FILTER (WHERE "email_normalized" IS DISTINCT FROM (lower(email)) AND "email" IS DISTINCT FROM (email_normalized)) AS divergent, count(*) AS total FROM "public"."users";
SET statement_timeout = '300000ms';

-- step 2: make new column authoritative (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_users-email-lower"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:users-email-lower: keeps "email" and "email_normalized" in agreement; the new column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'users-email-lower' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."email_normalized" IS NULL THEN
      NEW."email_normalized" := (SELECT (lower(email)) FROM (SELECT NEW.*) AS ecplan_row);
    ELSIF NEW."email" IS NULL THEN
      NEW."email" := NEW."email_normalized";
    ELSE
      NEW."email" := NEW."email_normalized";
    END IF;
  ELSIF NEW."email" IS DISTINCT FROM OLD."email" THEN
    IF NEW."email_normalized" IS NOT DISTINCT FROM OLD."email_normalized" THEN
      NEW."email_normalized" := (SELECT (lower(email)) FROM (SELECT NEW.*) AS ecplan_row);
    ELSE
      NEW."email" := NEW."email_normalized";
    END IF;
  ELSIF NEW."email_normalized" IS DISTINCT FROM OLD."email_normalized" THEN
    NEW."email" := NEW."email_normalized";
  ELSIF NEW."email_normalized" IS NULL THEN
    NEW."email_normalized" := (SELECT (lower(email)) FROM (SELECT NEW.*) AS ecplan_row);
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
SELECT count(*) FILTER (WHERE "email_normalized" IS DISTINCT FROM (lower(email))) AS new_differs, count(*) FILTER (WHERE "email" IS DISTINCT FROM (email_normalized)) AS old_differs, count(*) FILTER (WHERE "email_normalized" IS DISTINCT FROM (lower(email)) AND "email" IS DISTINCT FROM (email_normalized)) AS divergent, count(*) AS total FROM "public"."users";
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
DROP TABLE IF EXISTS "ecplan_archive"."users-email-lower";
-- lock: ACCESS SHARE (reads and writes continue)
CREATE TABLE "ecplan_archive"."users-email-lower" AS SELECT "id", "email" FROM "public"."users";
COMMIT;
-- then, in one transaction:
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
DROP TRIGGER "zz_ecplan_sync_users-email-lower" ON "public"."users";
-- lock: none on the table
DROP FUNCTION "ecplan"."ecplan_sync_users-email-lower"();
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."users" DROP COLUMN "email";
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
COMMENT ON COLUMN "public"."users"."email_normalized" IS NULL;
-- lock: ACCESS EXCLUSIVE, no table scan (the validated CHECK proves it)
ALTER TABLE "public"."users" ALTER COLUMN "email_normalized" SET NOT NULL;
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."users" DROP CONSTRAINT "ecplan_not_null_users-email-lower";
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER INDEX "public"."users_email_created_idx_ecplan" RENAME TO "users_email_created_idx";
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."users" RENAME CONSTRAINT "users_email_key_ecplan" TO "users_email_key";
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER INDEX "public"."users_email_lower_idx_ecplan" RENAME TO "users_email_lower_idx";
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER INDEX "public"."users_live_email_idx_ecplan" RENAME TO "users_live_email_idx";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
