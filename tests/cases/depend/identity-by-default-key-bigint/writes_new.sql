INSERT INTO public.accounts (name) VALUES ('new');
INSERT INTO public.accounts (id_big, name) VALUES (5000000000, 'explicit');
