-- new code of the rename: writes full_name
\set id random(1, :nrows)
\set v random(1, 100000000)
UPDATE bench_users SET full_name = 'Name ' || :v, updated_at = now() WHERE id = :id;
