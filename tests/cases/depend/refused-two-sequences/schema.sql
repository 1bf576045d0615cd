-- A serial column that also owns a second sequence (ALTER SEQUENCE ... OWNED BY):
-- ecplan moves one sequence with the column; the other would be dropped with
-- the old column, so the plan is refused.
CREATE TABLE public.tickets (
    id    serial PRIMARY KEY,
    label text NOT NULL
);
CREATE SEQUENCE public.tickets_other_seq OWNED BY public.tickets.id;
INSERT INTO public.tickets (label) SELECT 't' || g FROM generate_series(1, 50) g;
