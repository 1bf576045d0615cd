-- A foreign key of another table references "code" through the unique index
-- (code) INCLUDE (name): changing "name" would drop that index, and the foreign
-- key with it, at contract. Refused before expand, naming the foreign key.
CREATE TABLE public.k (
    id   integer PRIMARY KEY,
    code text NOT NULL,
    name text,
    UNIQUE (code) INCLUDE (name)
);
CREATE TABLE public.r (
    id   integer PRIMARY KEY,
    code text REFERENCES public.k (code)
);
INSERT INTO public.k VALUES (1, 'a', 'x'), (2, 'b', 'y');
INSERT INTO public.r VALUES (1, 'a'), (2, 'b');
