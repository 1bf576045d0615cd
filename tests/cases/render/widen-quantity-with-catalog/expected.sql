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
      NEW."quantity" := CAST(NEW."quantity_big" AS integer);
    ELSIF (NEW."quantity" IS NOT DISTINCT FROM (1)) AND NOT (false) THEN
      NEW."quantity" := CAST(NEW."quantity_big" AS integer);
    ELSE
      NEW."quantity_big" := CAST(NEW."quantity" AS bigint);
    END IF;
  ELSIF NEW."quantity" IS DISTINCT FROM OLD."quantity" THEN
    NEW."quantity_big" := CAST(NEW."quantity" AS bigint);
  ELSIF NEW."quantity_big" IS DISTINCT FROM OLD."quantity_big" THEN
    NEW."quantity" := CAST(NEW."quantity_big" AS integer);
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
SELECT "customer_id", "id" FROM "public"."orders" WHERE ("customer_id", "id") > ($1::bigint, $2::bigint) ORDER BY "customer_id", "id" OFFSET $3 LIMIT 1;
-- lock: ROW EXCLUSIVE per batch (one short transaction each)
UPDATE "public"."orders" SET "quantity_big" = (CAST("quantity" AS bigint)) WHERE ("customer_id", "id") > ($1::bigint, $2::bigint) AND ("customer_id", "id") <= ($3::bigint, $4::bigint) AND "quantity_big" IS NULL AND (CAST("quantity" AS bigint)) IS NOT NULL;
-- ecplan saves the cursor (the upper key) in ecplan.plans here
COMMIT;

-- step 2: build index orders_quantity_idx (must run outside a transaction block)
-- replaces orders_quantity_idx; an invalid leftover of an interrupted build is dropped concurrently before a retry
-- when a lock is not granted within lock_timeout: wait (jittered backoff) and try again, up to 10 times
SET statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_quantity_idx_ecplan" ON "public"."orders" USING btree ("quantity_big");
SET statement_timeout = '300000ms';
-- then ecplan records the step in ecplan.plans

-- step 3: build index orders_sku_quantity_idx (must run outside a transaction block)
-- replaces orders_sku_quantity_idx; an invalid leftover of an interrupted build is dropped concurrently before a retry
-- when a lock is not granted within lock_timeout: wait (jittered backoff) and try again, up to 10 times
SET statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_sku_quantity_idx_ecplan" ON "public"."orders" USING btree ("sku" COLLATE pg_catalog."C", "quantity_big" DESC NULLS LAST);
SET statement_timeout = '300000ms';
-- then ecplan records the step in ecplan.plans

-- step 4: analyze (in a transaction)
-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times
BEGIN;
SET LOCAL lock_timeout = '1000ms';
SET LOCAL statement_timeout = 0;
-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)
ANALYZE "public"."orders" ("quantity_big");
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
SELECT count(*) FILTER (WHERE "quantity_big" IS DISTINCT FROM (CAST("quantity" AS bigint))) AS new_differs, count(*) FILTER (WHERE "quantity" IS DISTINCT FROM (CAST("quantity_big" AS integer))) AS old_differs, count(*) FILTER (WHERE "quantity_big" IS DISTINCT FROM (CAST("quantity" AS bigint)) AND "quantity" IS DISTINCT FROM (CAST("quantity_big" AS integer))) AS divergent, count(*) AS total FROM "public"."orders";
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
      NEW."quantity" := CAST(NEW."quantity_big" AS integer);
    ELSE
      NEW."quantity" := CAST(NEW."quantity_big" AS integer);
    END IF;
  ELSIF NEW."quantity" IS DISTINCT FROM OLD."quantity" THEN
    IF NEW."quantity_big" IS NOT DISTINCT FROM OLD."quantity_big" THEN
      NEW."quantity_big" := CAST(NEW."quantity" AS bigint);
    ELSE
      NEW."quantity" := CAST(NEW."quantity_big" AS integer);
    END IF;
  ELSIF NEW."quantity_big" IS DISTINCT FROM OLD."quantity_big" THEN
    NEW."quantity" := CAST(NEW."quantity_big" AS integer);
  ELSIF NEW."quantity_big" IS NULL THEN
    NEW."quantity_big" := CAST(NEW."quantity" AS bigint);
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
SELECT count(*) FILTER (WHERE "quantity_big" IS DISTINCT FROM (CAST("quantity" AS bigint))) AS new_differs, count(*) FILTER (WHERE "quantity" IS DISTINCT FROM (CAST("quantity_big" AS integer))) AS old_differs, count(*) FILTER (WHERE "quantity_big" IS DISTINCT FROM (CAST("quantity" AS bigint)) AND "quantity" IS DISTINCT FROM (CAST("quantity_big" AS integer))) AS divergent, count(*) AS total FROM "public"."orders";
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
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
COMMENT ON COLUMN "public"."orders"."quantity_big" IS NULL;
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER INDEX "public"."orders_quantity_idx_ecplan" RENAME TO "orders_quantity_idx";
-- lock: ACCESS EXCLUSIVE, metadata only (brief)
ALTER INDEX "public"."orders_sku_quantity_idx_ecplan" RENAME TO "orders_sku_quantity_idx";
-- ecplan records the step in ecplan.plans here, in the same transaction
COMMIT;
