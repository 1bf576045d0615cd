INSERT INTO public.slots (list_id, pos) VALUES (:k % 10, 1000 + :k);
UPDATE public.slots SET pos = CASE id WHEN 1 + :k % 100 THEN (SELECT pos FROM public.slots WHERE id = 106 + :k % 100)
                                     ELSE (SELECT pos FROM public.slots WHERE id = 1 + :k % 100) END
 WHERE id IN (1 + :k % 100, 106 + :k % 100);
