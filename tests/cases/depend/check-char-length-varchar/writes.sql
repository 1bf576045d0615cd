INSERT INTO public.posts (title) VALUES ('written ' || :k);
UPDATE public.posts SET title = 'changed ' || :k WHERE id = 1 + :k % 300;
