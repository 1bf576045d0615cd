-- old code of the rename: insert naming name
\set v random(1, 1000000000)
INSERT INTO bench_users (email, name) VALUES ('ins-' || :client_id || '-' || :v || '-' || random() || '@example.com', 'Name ' || :v);
