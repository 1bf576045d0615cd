INSERT INTO public.pairs (a, x) VALUES (:k, 1 + :k % 9);
UPDATE public.pairs SET x = x + 1 WHERE id = 1 + :k % 300;
