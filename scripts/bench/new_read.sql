-- new code: point read
\set id random(1, :nrows)
SELECT id, customer_id, sku, quantity_big, unit_cents, updated_at FROM bench_orders WHERE id = :id;
