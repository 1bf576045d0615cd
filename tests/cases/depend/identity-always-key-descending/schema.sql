-- The primary key is a descending identity GENERATED ALWAYS, integer -> bigint: MINVALUE
-- was integer's and becomes bigint's (as ALTER COLUMN ... TYPE does), MAXVALUE -1 stays.
CREATE TABLE public.ledger (
    id      integer GENERATED ALWAYS AS IDENTITY (START WITH -1 INCREMENT BY -1) PRIMARY KEY,
    amount  numeric(12,2) NOT NULL
);
INSERT INTO public.ledger (amount) SELECT g FROM generate_series(1, 200) g;
