-- The column in the primary key (kind, code); a usable key other than the column
-- exists (a unique index on the NOT NULL id), so only the primary key is in the way.
CREATE TABLE public.things (
    id    bigint NOT NULL,
    kind  text NOT NULL,
    code  integer NOT NULL,
    CONSTRAINT things_pkey PRIMARY KEY (kind, code),
    CONSTRAINT things_id_key UNIQUE (id)
);
INSERT INTO public.things (id, kind, code) SELECT g, 'k' || (g % 5), g FROM generate_series(1, 100) g;
