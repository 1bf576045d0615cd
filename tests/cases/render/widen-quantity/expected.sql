-- phase expand
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: add column quantity_big (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "quantity_big" bigint;
-- lock: ACCESS EXCLUSIVE already held (same transaction)
COMMENT ON COLUMN "public"."orders"."quantity_big" IS 'ecplan:orders-quantity-bigint: replaces column quantity';
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
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_orders-quantity-bigint"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:orders-quantity-bigint: keeps "quantity" and "quantity_big" in agreement; the old column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'orders-quantity-bigint' THEN
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
CREATE TRIGGER "zz_ecplan_sync_orders-quantity-bigint" BEFORE INSERT OR UPDATE ON "public"."orders" FOR EACH ROW EXECUTE FUNCTION "ecplan"."ecplan_sync_orders-quantity-bigint"();
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the type of "quantity" (the default "down" casts back to it)
-- not known without --db: the default of "quantity" (an INSERT that leaves it at its default counts as not given)

-- phase backfill
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: backfill quantity_big (in a transaction)
-- repeated per batch of up to 5000 rows by key range, each batch in its own transaction with SET LOCAL ecplan.backfill = 'orders-quantity-bigint' (the sync trigger skips those writes) and the cursor saved in the same transaction
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
SET LOCAL ecplan.backfill = 'orders-quantity-bigint';
-- lock: ACCESS SHARE (reads and writes continue)
SELECT /* key columns, known with --db */ key FROM "public"."orders" WHERE (/* key columns, known with --db */ key) > ($1::unknown) ORDER BY /* key columns, known with --db */ key OFFSET $2 LIMIT 1;
-- lock: ROW EXCLUSIVE per batch (one short transaction each)
UPDATE "public"."orders" SET "quantity_big" = (CAST("quantity" AS bigint)) WHERE (/* key columns, known with --db */ key) > ($1::unknown) AND (/* key columns, known with --db */ key) <= ($2::unknown) AND "quantity_big" IS NULL AND (CAST("quantity" AS bigint)) IS NOT NULL;
-- ecplan saves the cursor (the upper key) in ecplan.plans here
COMMIT;

-- step 2: analyze (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ANALYZE "public"."orders" ("quantity_big");
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the key the backfill walks (primary key, or a unique index on NOT NULL columns)
-- not known without --db: the indexes on "quantity" (each is rebuilt on "quantity_big" with CREATE INDEX CONCURRENTLY)

-- phase switch
-- ecplan's session settings:
SET lock_timeout = '1000ms';
SET statement_timeout = '300000ms';

-- step 1: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "quantity_big" IS DISTINCT FROM (CAST("quantity" AS bigint))) AS new_differs, count(*) FILTER (WHERE "quantity" IS DISTINCT FROM (CAST("quantity_big" AS /* type of "quantity", known with --db */ unknown))) AS old_differs, count(*) FILTER (WHERE "quantity_big" IS DISTINCT FROM (CAST("quantity" AS bigint)) AND "quantity" IS DISTINCT FROM (CAST("quantity_big" AS /* type of "quantity", known with --db */ unknown))) AS divergent, count(*) AS total FROM "public"."orders";
SET statement_timeout = '300000ms';

-- step 2: make new column authoritative (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: none on the table
CREATE OR REPLACE FUNCTION "ecplan"."ecplan_sync_orders-quantity-bigint"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$
#variable_conflict use_column
-- ecplan:orders-quantity-bigint: keeps "quantity" and "quantity_big" in agreement; the new column wins a conflict
BEGIN
  IF current_setting('ecplan.backfill', true) = 'orders-quantity-bigint' THEN
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

-- step 1: verify no divergent rows (in a transaction)
-- the phase stops (exit 3) unless divergent = 0
SET statement_timeout = 0;
-- lock: ACCESS SHARE (reads and writes continue)
SELECT count(*) FILTER (WHERE "quantity_big" IS DISTINCT FROM (CAST("quantity" AS bigint))) AS new_differs, count(*) FILTER (WHERE "quantity" IS DISTINCT FROM (CAST("quantity_big" AS /* type of "quantity", known with --db */ unknown))) AS old_differs, count(*) FILTER (WHERE "quantity_big" IS DISTINCT FROM (CAST("quantity" AS bigint)) AND "quantity" IS DISTINCT FROM (CAST("quantity_big" AS /* type of "quantity", known with --db */ unknown))) AS divergent, count(*) AS total FROM "public"."orders";
SET statement_timeout = '300000ms';

-- step 2: drop old column (one transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = '300000ms';
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
DROP TRIGGER "zz_ecplan_sync_orders-quantity-bigint" ON "public"."orders";
-- lock: none on the table
DROP FUNCTION "ecplan"."ecplan_sync_orders-quantity-bigint"();
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER TABLE "public"."orders" DROP COLUMN "quantity";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
-- not known without --db: the type of "quantity" (the default "down" casts back to it)
-- not known without --db: the rebuilt indexes renamed to their old names
