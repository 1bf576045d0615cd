INSERT INTO public.docs (owner, slug) VALUES (:k % 13, 'w-' || :k);
UPDATE public.docs SET slug = 'u-' || :k WHERE id = 1 + :k % 300;
