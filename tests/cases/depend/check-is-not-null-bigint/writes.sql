INSERT INTO public.events (owner_id) VALUES (:k);
UPDATE public.events SET owner_id = owner_id + 1 WHERE id = 1 + :k % 300;
