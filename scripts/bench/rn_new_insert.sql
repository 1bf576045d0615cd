-- new code of the rename: insert naming full_name
\set v random(1, 1000000000)
INSERT INTO bench_users (email, full_name) VALUES ('ins-' || :client_id || '-' || :v || '-' || random() || '@example.com', 'Name ' || :v);
