-- A composite foreign key (x, y) REFERENCES t (a, b), in one plan with x, y and
-- the referenced t.b (t.a unchanged). The foreign key is carried once, by x's
-- change (the first of its table), whose partner t.a does not change: the copy
-- must still reference t.b's new column, added once its unique index exists
-- (before the fix it referenced the old b, added at sync, and the backfill's
-- preconditions then refused the plan halfway: y_new referenced the old b).
CREATE TABLE public.t (a integer NOT NULL, b integer NOT NULL, v text, PRIMARY KEY (a, b));
CREATE TABLE public.s (id serial PRIMARY KEY, x integer, y integer,
  CONSTRAINT s_x_y_fkey FOREIGN KEY (x, y) REFERENCES public.t (a, b) ON DELETE CASCADE);
COMMENT ON CONSTRAINT s_x_y_fkey ON public.s IS 'each s row points at a t row';
INSERT INTO public.t SELECT g % 5, g, 'v' || g FROM generate_series(1, 200) g;
INSERT INTO public.s (x, y) SELECT g % 5, g FROM generate_series(1, 200) g;
