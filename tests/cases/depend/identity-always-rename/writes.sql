INSERT INTO public.things (id, kind) VALUES (1000 + :k, 'w' || :k);
UPDATE public.things SET kind = 'u' || :k WHERE id = 1 + :k % 100;
