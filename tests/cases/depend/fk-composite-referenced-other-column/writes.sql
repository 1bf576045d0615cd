INSERT INTO public.t (a, b, v) VALUES (:k % 5, 1000 + :k, 'w');
INSERT INTO public.s (x, y) VALUES (:k % 5, 1000 + :k);
UPDATE public.s SET y = 1 + :k % 200, x = (1 + :k % 200) % 5 WHERE id = 1 + :k % 200;
