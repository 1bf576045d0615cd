-- old code: point update of quantity
\set id random(1, :nrows)
\set q random(1, 1000)
UPDATE bench_orders SET quantity = :q, updated_at = now() WHERE id = :id;
