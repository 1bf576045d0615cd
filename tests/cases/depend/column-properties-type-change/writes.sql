INSERT INTO public.notes (body) VALUES ('written ' || :k);
UPDATE public.notes SET body = 'changed ' || :k WHERE id = 1 + :k % 300;
