-- The column in the primary key (kind, code), with a unique index on the NOT NULL id
-- as another usable key. ecplan now carries a key column (the primary key is rebuilt
-- on the new column and takes its name at contract): it must end identical to
-- PostgreSQL's own RENAME COLUMN.
CREATE TABLE public.things (
    id    bigint NOT NULL,
    kind  text NOT NULL,
    code  integer NOT NULL,
    CONSTRAINT things_pkey PRIMARY KEY (kind, code),
    CONSTRAINT things_id_key UNIQUE (id)
);
COMMENT ON INDEX public.things_pkey IS 'kind and code identify a thing';
INSERT INTO public.things (id, kind, code) SELECT g, 'k' || (g % 5), g FROM generate_series(1, 100) g;
