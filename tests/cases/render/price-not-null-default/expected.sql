-- phase expand
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: add column price_numeric (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."products" ADD COLUMN IF NOT EXISTS "price_numeric" numeric(12,2);
-- lock: ACCESS EXCLUSIVE already held (same transaction)
COMMENT ON COLUMN "public"."products"."price_numeric" IS 'ecplan:products-price-numeric: replaces column price';
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
ALTER TABLE "public"."products" ALTER COLUMN "price_numeric" SET DEFAULT (0);
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_products-price-numeric"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:products-price-numeric: keeps "price" and "price_numeric" in agreement; the old column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'products-price-numeric' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."price_numeric" IS NULL THEN
      NEW."price_numeric" := (SELECT (round(price::numeric, 2)) FROM (SELECT NEW.*) AS ecplan_row);
    ELSIF NEW."price" IS NULL THEN
      NEW."price" := (SELECT (price_numeric::float8) FROM (SELECT NEW.*) AS ecplan_row);
    ELSE
      NEW."price_numeric" := (SELECT (round(price::numeric, 2)) FROM (SELECT NEW.*) AS ecplan_row);
    END IF;
  ELSIF NEW."price" IS DISTINCT FROM OLD."price" THEN
    NEW."price_numeric" := (SELECT (round(price::numeric, 2)) FROM (SELECT NEW.*) AS ecplan_row);
  ELSIF NEW."price_numeric" IS DISTINCT FROM OLD."price_numeric" THEN
    NEW."price" := (SELECT (price_numeric::float8) FROM (SELECT NEW.*) AS ecplan_row);
  ELSIF NEW."price_numeric" IS NULL THEN
    NEW."price_numeric" := (SELECT (round(price::numeric, 2)) FROM (SELECT NEW.*) AS ecplan_row);
  END IF;
  RETURN NEW;
END
$ecplan$;
-- lock: SHARE ROW EXCLUSIVE, brief (blocks writes while held)
CREATE TRIGGER "zz_ecplan_sync_products-price-numeric" BEFORE INSERT OR UPDATE ON "public"."products" FOR EACH ROW EXECUTE FUNCTION "ecplan"."ecplan_sync_products-price-numeric"();
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the default of "price" (an INSERT that leaves it at its default counts as not given)

-- phase backfill
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: backfill price_numeric (in a transaction)
-- repeated per batch of up to 2000 rows by key range, each batch in its own transaction with SET LOCAL ecplan.backfill = 'products-price-numeric' (the sync trigger skips those writes) and the cursor saved in the same transaction
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
SET LOCAL ecplan.backfill = 'products-price-numeric';
-- lock: ACCESS SHARE (reads and writes continue)
SELECT /* key columns, known with --db */ key FROM "public"."products" WHERE (/* key columns, known with --db */ key) > ($1::unknown) ORDER BY /* key columns, known with --db */ key OFFSET $2 LIMIT 1;
-- lock: ROW EXCLUSIVE per batch (one short transaction each)
UPDATE "public"."products" SET "price_numeric" = (round(price::numeric, 2)) WHERE (/* key columns, known with --db */ key) > ($1::unknown) AND (/* key columns, known with --db */ key) <= ($2::unknown) AND "price_numeric" IS NULL AND (round(price::numeric, 2)) IS NOT NULL;
-- ecplan saves the cursor (the upper key) in ecplan.plans here
COMMIT;

-- step 2: add NOT NULL check (not valid) (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."products" ADD CONSTRAINT "ecplan_not_null_products-price-numeric" CHECK ("price_numeric" IS NOT NULL) NOT VALID;
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- step 3: validate NOT NULL check (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ALTER TABLE "public"."products" VALIDATE CONSTRAINT "ecplan_not_null_products-price-numeric";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;

-- step 4: analyze (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ANALYZE "public"."products" ("price_numeric");
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the key the backfill walks (primary key, or a unique index on NOT NULL columns)
-- not known without --db: the indexes on "price" (each is rebuilt on "price_numeric" with CREATE INDEX CONCURRENTLY)

-- phase switch
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "price_numeric" IS DISTINCT FROM (round(price::numeric, 2))) AS new_differs, count(*) FILTER (WHERE "price" IS DISTINCT FROM (price_numeric::float8)) AS old_differs, count(*) FILTER (WHERE "price_numeric" IS DISTINCT FROM (round(price::numeric, 2)) AND "price" IS DISTINCT FROM (price_numeric::float8)) AS divergent, count(*) AS total FROM "public"."products";
SET statement_timeout = '300000ms';

-- step 2: make new column authoritative (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_products-price-numeric"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:products-price-numeric: keeps "price" and "price_numeric" in agreement; the new column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'products-price-numeric' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW."price_numeric" IS NULL THEN
      NEW."price_numeric" := (SELECT (round(price::numeric, 2)) FROM (SELECT NEW.*) AS ecplan_row);
    ELSIF NEW."price" IS NULL THEN
      NEW."price" := (SELECT (price_numeric::float8) FROM (SELECT NEW.*) AS ecplan_row);
    ELSIF (NEW."price_numeric" IS NOT DISTINCT FROM (0)) AND NOT (false) THEN
      NEW."price_numeric" := (SELECT (round(price::numeric, 2)) FROM (SELECT NEW.*) AS ecplan_row);
    ELSE
      NEW."price" := (SELECT (price_numeric::float8) FROM (SELECT NEW.*) AS ecplan_row);
    END IF;
  ELSIF NEW."price" IS DISTINCT FROM OLD."price" THEN
    IF NEW."price_numeric" IS NOT DISTINCT FROM OLD."price_numeric" THEN
      NEW."price_numeric" := (SELECT (round(price::numeric, 2)) FROM (SELECT NEW.*) AS ecplan_row);
    ELSE
      NEW."price" := (SELECT (price_numeric::float8) FROM (SELECT NEW.*) AS ecplan_row);
    END IF;
  ELSIF NEW."price_numeric" IS DISTINCT FROM OLD."price_numeric" THEN
    NEW."price" := (SELECT (price_numeric::float8) FROM (SELECT NEW.*) AS ecplan_row);
  ELSIF NEW."price_numeric" IS NULL THEN
    NEW."price_numeric" := (SELECT (round(price::numeric, 2)) FROM (SELECT NEW.*) AS ecplan_row);
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
SELECT count(*) FILTER (WHERE "price_numeric" IS DISTINCT FROM (round(price::numeric, 2))) AS new_differs, count(*) FILTER (WHERE "price" IS DISTINCT FROM (price_numeric::float8)) AS old_differs, count(*) FILTER (WHERE "price_numeric" IS DISTINCT FROM (round(price::numeric, 2)) AND "price" IS DISTINCT FROM (price_numeric::float8)) AS divergent, count(*) AS total FROM "public"."products";
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
DROP TABLE IF EXISTS "ecplan_archive"."products-price-numeric";
-- lock: ACCESS SHARE (reads and writes continue)
CREATE TABLE "ecplan_archive"."products-price-numeric" AS SELECT /* key columns, known with --db */ key, "price" FROM "public"."products";
COMMIT;
-- then, in one transaction:
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
DROP TRIGGER "zz_ecplan_sync_products-price-numeric" ON "public"."products";
-- lock: none on the table
DROP FUNCTION "ecplan"."ecplan_sync_products-price-numeric"();
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."products" DROP COLUMN "price";
-- lock: ACCESS EXCLUSIVE, no table scan (the validated CHECK proves it)
ALTER TABLE "public"."products" ALTER COLUMN "price_numeric" SET NOT NULL;
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."products" DROP CONSTRAINT "ecplan_not_null_products-price-numeric";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the key columns archived with "price"
-- not known without --db: the rebuilt indexes renamed to their old names
