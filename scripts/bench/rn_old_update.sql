-- old code of the rename: writes name
\set id random(1, :nrows)
\set v random(1, 100000000)
UPDATE bench_users SET name = 'Name ' || :v, updated_at = now() WHERE id = :id;
