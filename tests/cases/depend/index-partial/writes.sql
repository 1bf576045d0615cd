INSERT INTO public.accounts (email) VALUES ('w' || :k || '@new.example');
UPDATE public.accounts SET email = 'u' || :k || '@old.example' WHERE id = 1 + :k % 300;
