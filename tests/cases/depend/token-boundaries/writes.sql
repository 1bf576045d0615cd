INSERT INTO public.grid (x, x2, "X") VALUES (1 + :k % 900, :k % 5, 'w' || :k);
UPDATE public.grid SET x = x + 1 WHERE id = 1 + :k % 300;
