-- phase expand
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: public.users: add columns display_name, signed_up_at (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."users" ADD COLUMN IF NOT EXISTS "display_name" /* type of "name", known with --db */ unknown;
-- lock: ACCESS EXCLUSIVE already held (same transaction)
COMMENT ON COLUMN "public"."users"."display_name" IS 'ecplan:users-orders-several: replaces column name';
-- lock: ACCESS EXCLUSIVE already held (same transaction)
ALTER TABLE "public"."users" ADD COLUMN IF NOT EXISTS "signed_up_at" /* type of "created_at", known with --db */ unknown;
-- lock: ACCESS EXCLUSIVE already held (same transaction)
COMMENT ON COLUMN "public"."users"."signed_up_at" IS 'ecplan:users-orders-several: replaces column created_at';
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- step 2: public.orders: add column quantity_big (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "quantity_big" bigint;
-- lock: ACCESS EXCLUSIVE already held (same transaction)
COMMENT ON COLUMN "public"."orders"."quantity_big" IS 'ecplan:users-orders-several: replaces column quantity';
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the type of "name" (the plan gives no "type")
-- not known without --db: the type of "created_at" (the plan gives no "type")

-- phase sync
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: public.users: install sync trigger (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_users-orders-several"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:users-orders-several: keeps "name" and "display_name" and "created_at" and "signed_up_at" in agreement; the old columns win a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'users-orders-several' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."display_name" IS NULL THEN
      NEW."display_name" := NEW."name";
    ELSIF NEW."name" IS NULL THEN
      NEW."name" := NEW."display_name";
    ELSE
      NEW."display_name" := NEW."name";
    END IF;
  ELSIF NEW."name" IS DISTINCT FROM OLD."name" THEN
    NEW."display_name" := NEW."name";
  ELSIF NEW."display_name" IS DISTINCT FROM OLD."display_name" THEN
    NEW."name" := NEW."display_name";
  ELSIF NEW."display_name" IS NULL THEN
    NEW."display_name" := NEW."name";
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."signed_up_at" IS NULL THEN
      NEW."signed_up_at" := NEW."created_at";
    ELSIF NEW."created_at" IS NULL THEN
      NEW."created_at" := NEW."signed_up_at";
    ELSE
      NEW."signed_up_at" := NEW."created_at";
    END IF;
  ELSIF NEW."created_at" IS DISTINCT FROM OLD."created_at" THEN
    NEW."signed_up_at" := NEW."created_at";
  ELSIF NEW."signed_up_at" IS DISTINCT FROM OLD."signed_up_at" THEN
    NEW."created_at" := NEW."signed_up_at";
  ELSIF NEW."signed_up_at" IS NULL THEN
    NEW."signed_up_at" := NEW."created_at";
  END IF;
  RETURN NEW;
END
$ecplan$;
-- lock: SHARE ROW EXCLUSIVE, brief (blocks writes while held)
CREATE TRIGGER "zz_ecplan_sync_users-orders-several" BEFORE INSERT OR UPDATE ON "public"."users" FOR EACH ROW EXECUTE FUNCTION "ecplan"."ecplan_sync_users-orders-several"();
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- step 2: public.orders: install sync trigger (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_users-orders-several_2"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:users-orders-several: keeps "quantity" and "quantity_big" in agreement; the old column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'users-orders-several' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."quantity_big" IS NULL THEN
      NEW."quantity_big" := CAST(NEW."quantity" AS bigint);
    ELSIF NEW."quantity" IS NULL THEN
      NEW."quantity" := CAST(NEW."quantity_big" AS /* type of "quantity", known with --db */ unknown);
    ELSE
      NEW."quantity_big" := CAST(NEW."quantity" AS bigint);
    END IF;
  ELSIF NEW."quantity" IS DISTINCT FROM OLD."quantity" THEN
    NEW."quantity_big" := CAST(NEW."quantity" AS bigint);
  ELSIF NEW."quantity_big" IS DISTINCT FROM OLD."quantity_big" THEN
    NEW."quantity" := CAST(NEW."quantity_big" AS /* type of "quantity", known with --db */ unknown);
  ELSIF NEW."quantity_big" IS NULL THEN
    NEW."quantity_big" := CAST(NEW."quantity" AS bigint);
  END IF;
  RETURN NEW;
END
$ecplan$;
-- lock: SHARE ROW EXCLUSIVE, brief (blocks writes while held)
CREATE TRIGGER "zz_ecplan_sync_users-orders-several_2" BEFORE INSERT OR UPDATE ON "public"."orders" FOR EACH ROW EXECUTE FUNCTION "ecplan"."ecplan_sync_users-orders-several_2"();
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the default of "name" (an INSERT that leaves it at its default counts as not given)
-- not known without --db: the default of "created_at" (an INSERT that leaves it at its default counts as not given)
-- not known without --db: the type of "quantity" (the default "down" casts back to it)
-- not known without --db: the default of "quantity" (an INSERT that leaves it at its default counts as not given)

-- phase backfill
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: public.users: backfill display_name, signed_up_at (in a transaction)
-- repeated per batch of up to 5000 rows by key range, each batch in its own transaction with SET LOCAL ecplan.backfill = 'users-orders-several' (the sync trigger skips those writes) and the cursor saved in the same transaction
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
SET LOCAL ecplan.backfill = 'users-orders-several';
-- lock: ACCESS SHARE (reads and writes continue)
SELECT /* key columns, known with --db */ key FROM "public"."users" WHERE (/* key columns, known with --db */ key) > ($1::unknown) ORDER BY /* key columns, known with --db */ key OFFSET $2 LIMIT 1;
-- lock: ROW EXCLUSIVE per batch (one short transaction each)
UPDATE "public"."users" SET "display_name" = CASE WHEN "display_name" IS NULL THEN ("name") ELSE "display_name" END, "signed_up_at" = CASE WHEN "signed_up_at" IS NULL THEN ("created_at") ELSE "signed_up_at" END WHERE (/* key columns, known with --db */ key) > ($1::unknown) AND (/* key columns, known with --db */ key) <= ($2::unknown) AND (("display_name" IS NULL AND ("name") IS NOT NULL) OR ("signed_up_at" IS NULL AND ("created_at") IS NOT NULL));
-- ecplan saves the cursor (the upper key) in ecplan.plans here
COMMIT;

-- step 2: public.users: analyze (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ANALYZE "public"."users" ("display_name", "signed_up_at");
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- step 3: public.orders: backfill quantity_big (in a transaction)
-- repeated per batch of up to 5000 rows by key range, each batch in its own transaction with SET LOCAL ecplan.backfill = 'users-orders-several' (the sync trigger skips those writes) and the cursor saved in the same transaction
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
SET LOCAL ecplan.backfill = 'users-orders-several';
-- lock: ACCESS SHARE (reads and writes continue)
SELECT /* key columns, known with --db */ key FROM "public"."orders" WHERE (/* key columns, known with --db */ key) > ($1::unknown) ORDER BY /* key columns, known with --db */ key OFFSET $2 LIMIT 1;
-- lock: ROW EXCLUSIVE per batch (one short transaction each)
UPDATE "public"."orders" SET "quantity_big" = (CAST("quantity" AS bigint)) WHERE (/* key columns, known with --db */ key) > ($1::unknown) AND (/* key columns, known with --db */ key) <= ($2::unknown) AND "quantity_big" IS NULL AND (CAST("quantity" AS bigint)) IS NOT NULL;
-- ecplan saves the cursor (the upper key) in ecplan.plans here
COMMIT;

-- step 4: public.orders: analyze (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ANALYZE "public"."orders" ("quantity_big");
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the key the backfill walks (primary key, or a unique index on NOT NULL columns)
-- not known without --db: the indexes on "name" (each is rebuilt on "display_name" with CREATE INDEX CONCURRENTLY)
-- not known without --db: the indexes on "created_at" (each is rebuilt on "signed_up_at" with CREATE INDEX CONCURRENTLY)
-- not known without --db: the indexes on "quantity" (each is rebuilt on "quantity_big" with CREATE INDEX CONCURRENTLY)

-- phase switch
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: public.users: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "display_name" IS DISTINCT FROM ("name") OR "signed_up_at" IS DISTINCT FROM ("created_at")) AS new_differs, count(*) FILTER (WHERE "name" IS DISTINCT FROM ("display_name") OR "created_at" IS DISTINCT FROM ("signed_up_at")) AS old_differs, count(*) FILTER (WHERE ("display_name" IS DISTINCT FROM ("name") AND "name" IS DISTINCT FROM ("display_name")) OR ("signed_up_at" IS DISTINCT FROM ("created_at") AND "created_at" IS DISTINCT FROM ("signed_up_at"))) AS divergent, count(*) AS total FROM "public"."users";
SET statement_timeout = '300000ms';

-- step 2: public.orders: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "quantity_big" IS DISTINCT FROM (CAST("quantity" AS bigint))) AS new_differs, count(*) FILTER (WHERE "quantity" IS DISTINCT FROM (CAST("quantity_big" AS /* type of "quantity", known with --db */ unknown))) AS old_differs, count(*) FILTER (WHERE "quantity_big" IS DISTINCT FROM (CAST("quantity" AS bigint)) AND "quantity" IS DISTINCT FROM (CAST("quantity_big" AS /* type of "quantity", known with --db */ unknown))) AS divergent, count(*) AS total FROM "public"."orders";
SET statement_timeout = '300000ms';

-- step 3: make new columns of every table authoritative (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_users-orders-several"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:users-orders-several: keeps "name" and "display_name" and "created_at" and "signed_up_at" in agreement; the new columns win a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'users-orders-several' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."display_name" IS NULL THEN
      NEW."display_name" := NEW."name";
    ELSIF NEW."name" IS NULL THEN
      NEW."name" := NEW."display_name";
    ELSE
      NEW."name" := NEW."display_name";
    END IF;
  ELSIF NEW."name" IS DISTINCT FROM OLD."name" THEN
    IF NEW."display_name" IS NOT DISTINCT FROM OLD."display_name" THEN
      NEW."display_name" := NEW."name";
    ELSE
      NEW."name" := NEW."display_name";
    END IF;
  ELSIF NEW."display_name" IS DISTINCT FROM OLD."display_name" THEN
    NEW."name" := NEW."display_name";
  ELSIF NEW."display_name" IS NULL THEN
    NEW."display_name" := NEW."name";
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."signed_up_at" IS NULL THEN
      NEW."signed_up_at" := NEW."created_at";
    ELSIF NEW."created_at" IS NULL THEN
      NEW."created_at" := NEW."signed_up_at";
    ELSE
      NEW."created_at" := NEW."signed_up_at";
    END IF;
  ELSIF NEW."created_at" IS DISTINCT FROM OLD."created_at" THEN
    IF NEW."signed_up_at" IS NOT DISTINCT FROM OLD."signed_up_at" THEN
      NEW."signed_up_at" := NEW."created_at";
    ELSE
      NEW."created_at" := NEW."signed_up_at";
    END IF;
  ELSIF NEW."signed_up_at" IS DISTINCT FROM OLD."signed_up_at" THEN
    NEW."created_at" := NEW."signed_up_at";
  ELSIF NEW."signed_up_at" IS NULL THEN
    NEW."signed_up_at" := NEW."created_at";
  END IF;
  RETURN NEW;
END
$ecplan$;
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_users-orders-several_2"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:users-orders-several: keeps "quantity" and "quantity_big" in agreement; the new column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'users-orders-several' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."quantity_big" IS NULL THEN
      NEW."quantity_big" := CAST(NEW."quantity" AS bigint);
    ELSIF NEW."quantity" IS NULL THEN
      NEW."quantity" := CAST(NEW."quantity_big" AS /* type of "quantity", known with --db */ unknown);
    ELSE
      NEW."quantity" := CAST(NEW."quantity_big" AS /* type of "quantity", known with --db */ unknown);
    END IF;
  ELSIF NEW."quantity" IS DISTINCT FROM OLD."quantity" THEN
    IF NEW."quantity_big" IS NOT DISTINCT FROM OLD."quantity_big" THEN
      NEW."quantity_big" := CAST(NEW."quantity" AS bigint);
    ELSE
      NEW."quantity" := CAST(NEW."quantity_big" AS /* type of "quantity", known with --db */ unknown);
    END IF;
  ELSIF NEW."quantity_big" IS DISTINCT FROM OLD."quantity_big" THEN
    NEW."quantity" := CAST(NEW."quantity_big" AS /* type of "quantity", known with --db */ unknown);
  ELSIF NEW."quantity_big" IS NULL THEN
    NEW."quantity_big" := CAST(NEW."quantity" AS bigint);
  END IF;
  RETURN NEW;
END
$ecplan$;
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the type of "quantity" (the default "down" casts back to it)

-- phase contract
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: public.users: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "display_name" IS DISTINCT FROM ("name") OR "signed_up_at" IS DISTINCT FROM ("created_at")) AS new_differs, count(*) FILTER (WHERE "name" IS DISTINCT FROM ("display_name") OR "created_at" IS DISTINCT FROM ("signed_up_at")) AS old_differs, count(*) FILTER (WHERE ("display_name" IS DISTINCT FROM ("name") AND "name" IS DISTINCT FROM ("display_name")) OR ("signed_up_at" IS DISTINCT FROM ("created_at") AND "created_at" IS DISTINCT FROM ("signed_up_at"))) AS divergent, count(*) AS total FROM "public"."users";
SET statement_timeout = '300000ms';

-- step 2: public.users: archive and drop old columns (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
-- first, in its own transaction (repeated before every try):
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: none on the table
DO $ecplan$BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'ecplan_archive') THEN CREATE SCHEMA ecplan_archive; END IF; EXCEPTION WHEN unique_violation OR duplicate_schema THEN NULL; END$ecplan$;
-- lock: none on the table
DROP TABLE IF EXISTS "ecplan_archive"."users-orders-several";
-- lock: ACCESS SHARE (reads and writes continue)
CREATE TABLE "ecplan_archive"."users-orders-several" AS SELECT /* key columns, known with --db */ key, "name" FROM "public"."users";
-- lock: none on the table
DROP TABLE IF EXISTS "ecplan_archive"."users-orders-several_2";
-- lock: ACCESS SHARE (reads and writes continue)
CREATE TABLE "ecplan_archive"."users-orders-several_2" AS SELECT /* key columns, known with --db */ key, "created_at" FROM "public"."users";
COMMIT;
-- then, in one transaction:
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
DROP TRIGGER "zz_ecplan_sync_users-orders-several" ON "public"."users";
-- lock: none on the table
DROP FUNCTION "ecplan"."ecplan_sync_users-orders-several"();
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."users" DROP COLUMN "name";
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."users" DROP COLUMN "created_at";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- step 3: public.orders: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "quantity_big" IS DISTINCT FROM (CAST("quantity" AS bigint))) AS new_differs, count(*) FILTER (WHERE "quantity" IS DISTINCT FROM (CAST("quantity_big" AS /* type of "quantity", known with --db */ unknown))) AS old_differs, count(*) FILTER (WHERE "quantity_big" IS DISTINCT FROM (CAST("quantity" AS bigint)) AND "quantity" IS DISTINCT FROM (CAST("quantity_big" AS /* type of "quantity", known with --db */ unknown))) AS divergent, count(*) AS total FROM "public"."orders";
SET statement_timeout = '300000ms';

-- step 4: public.orders: archive and drop old column (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
-- first, in its own transaction (repeated before every try):
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: none on the table
DO $ecplan$BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'ecplan_archive') THEN CREATE SCHEMA ecplan_archive; END IF; EXCEPTION WHEN unique_violation OR duplicate_schema THEN NULL; END$ecplan$;
-- lock: none on the table
DROP TABLE IF EXISTS "ecplan_archive"."users-orders-several_3";
-- lock: ACCESS SHARE (reads and writes continue)
CREATE TABLE "ecplan_archive"."users-orders-several_3" AS SELECT /* key columns, known with --db */ key, "quantity" FROM "public"."orders";
COMMIT;
-- then, in one transaction:
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
DROP TRIGGER "zz_ecplan_sync_users-orders-several_2" ON "public"."orders";
-- lock: none on the table
DROP FUNCTION "ecplan"."ecplan_sync_users-orders-several_2"();
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."orders" DROP COLUMN "quantity";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the key columns archived with "name"
-- not known without --db: the key columns archived with "created_at"
-- not known without --db: the rebuilt indexes renamed to their old names
-- not known without --db: the type of "quantity" (the default "down" casts back to it)
-- not known without --db: the key columns archived with "quantity"
