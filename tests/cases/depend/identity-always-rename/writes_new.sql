INSERT INTO public.things (id, kind) VALUES (200000, 'new');
