INSERT INTO public.members (handle) VALUES ('Writer' || :k);
UPDATE public.members SET handle = 'Renamed' || :k WHERE id = 1 + :k % 300;
