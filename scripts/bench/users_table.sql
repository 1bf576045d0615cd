-- The table of the trigger-overhead test: plans/README.md's users table, whose
-- name column is renamed to full_name (the seed article's example).
-- psql -v rows=N
SET client_min_messages = warning;
DROP TABLE IF EXISTS public.bench_users;
CREATE TABLE public.bench_users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       varchar(255) NOT NULL,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO public.bench_users (email, name)
SELECT 'User' || g || '@Example.COM', 'User ' || g FROM generate_series(1, :rows) AS g;
CREATE UNIQUE INDEX bench_users_email_key ON public.bench_users (email);
VACUUM ANALYZE public.bench_users;
