-- An identity column that is not the key.
CREATE TABLE public.things (
    id      bigint PRIMARY KEY,
    kind    text NOT NULL,
    seq_no  integer GENERATED ALWAYS AS IDENTITY
);
INSERT INTO public.things (id, kind) SELECT g, 'k' || (g % 5) FROM generate_series(1, 100) g;
