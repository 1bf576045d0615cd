INSERT INTO public.lines (quantity) VALUES (1 + :k % 5);
UPDATE public.lines SET quantity = quantity + 1 WHERE id = 1 + :k % 300;
