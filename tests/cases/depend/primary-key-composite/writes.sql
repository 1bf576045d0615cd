INSERT INTO public.things (id, kind, code) VALUES (1000 + :k, 'w' || (:k % 3), 1000 + :k);
UPDATE public.things SET kind = 'u' || :k WHERE id = 1 + :k % 100;
