-- new code: point update of quantity_big
\set id random(1, :nrows)
\set q random(1, 1000)
UPDATE bench_orders SET quantity_big = :q, updated_at = now() WHERE id = :id;
