INSERT INTO public.people (email) VALUES ('Writer' || :k || '@Example.COM');
UPDATE public.people SET email = 'Changed' || :k || '@Example.COM' WHERE id = 1 + :k % 300;
