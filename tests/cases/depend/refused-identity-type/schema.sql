-- An identity key to numeric: an identity must be smallint, integer or bigint.
CREATE TABLE public.things (
    id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind  text NOT NULL
);
INSERT INTO public.things (kind) SELECT 'k' || g FROM generate_series(1, 50) g;
