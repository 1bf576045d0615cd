-- new code: insert naming quantity_big
\set c random(1, 50000)
\set q random(1, 1000)
INSERT INTO bench_orders (customer_id, sku, note, quantity_big, unit_cents)
VALUES (:c, 'SKU-' || :c % 7000, 'bench insert', :q, 100 + :c % 9900);
