INSERT INTO public.items (min_qty, max_qty) VALUES (:k % 3, 3 + :k % 4);
UPDATE public.items SET max_qty = max_qty + 1 WHERE id = 1 + :k % 300;
