INSERT INTO public.accounts (name) VALUES ('w' || :k);
INSERT INTO public.accounts (id, name) VALUES (100000 + :k, 'e' || :k);
UPDATE public.accounts SET name = 'u' || :k WHERE id = 1 + :k % 300;
