INSERT INTO public.words (lower) VALUES ('new' || :k);
UPDATE public.words SET lower = 'upd' || :k WHERE id = 1 + :k % 300;
