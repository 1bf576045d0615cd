INSERT INTO public.notes (body) VALUES ('written ' || :k);
INSERT INTO public.notes DEFAULT VALUES;
UPDATE public.notes SET body = 'changed ' || :k WHERE id = 1 + :k % 300;
