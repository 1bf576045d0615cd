-- The benchmark's main table: an orders table of :rows rows whose
-- quantity integer column becomes quantity_big bigint (the bench plan).
-- Used by scripts/bench.sh with psql -v rows=N -v tbl=NAME.
-- Deterministic content: two tables made with the same :rows are identical.
SET client_min_messages = warning;
DROP TABLE IF EXISTS :"tbl";
CREATE TABLE :"tbl" (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  bigint NOT NULL,
    sku          text NOT NULL,
    note         text,
    quantity     integer NOT NULL DEFAULT 1,
    unit_cents   bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO :"tbl" (customer_id, sku, note, quantity, unit_cents, created_at, updated_at)
SELECT g % 50000, 'SKU-' || (g % 7000), 'order ' || md5(g::text), 1 + g % 12, 100 + g % 9900,
       timestamptz '2024-01-01' + g * interval '1 second', timestamptz '2024-06-01' + g * interval '1 second'
FROM generate_series(1, :rows) AS g;
\set idx_customer :tbl _customer_idx
\set idx_quantity :tbl _quantity_idx
CREATE INDEX :"idx_customer" ON :"tbl" (customer_id);
CREATE INDEX :"idx_quantity" ON :"tbl" (quantity);
VACUUM ANALYZE :"tbl";
